"""Who can fetch which file: a listed model's files for anyone, everything else only through the
owner's short-lived signed URLs — and the moment a model turns private, its files close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.keys import STORAGE
from lumi_api.settings import ApiSettings
from lumi_common.storage import Storage
from lumi_common.storage.signing import FileSigner
from tests.conftest import TEST_FILE_URL_SECRET
from tests.support.api import Client
from tests.support.gallery import auth, complete, requested_model
from tests.support.s3 import S3Server

Sessions = async_sessionmaker[AsyncSession]
CDN = "https://cdn.example.com/lumi/"
FILES = ("model.obj", "material.mtl", "material.png", "model.glb", "model.stl")


async def stored_model(client: Client, token: IssuedToken, sessionmaker: Sessions) -> Any:
    """A completed, listed model with its files and its task's four pictures stored."""
    model = await requested_model(client, token, sessionmaker)
    storage: Storage = client.app[STORAGE]
    for index in range(4):
        await storage.put(f"images/{model['requestId']}/{index}.png", b"png%d" % index, "image/png")
    folder = f"models/{model['id']}/"
    for name in FILES:
        body = b"newmtl m\nmap_Kd material.png\n" if name.endswith(".mtl") else name.encode()
        await storage.put(folder + name, body, "application/octet-stream")
    await complete(sessionmaker, model["id"])
    return await owner_view(client, token, model["id"])


async def owner_view(client: Client, token: IssuedToken, model_id: str) -> Any:
    response = await client.get(f"/api/gallery/models/{model_id}", headers=auth(token))
    assert response.status == 200
    return (await response.json())["data"]


async def anonymous_view(client: Client, model_id: str) -> tuple[int, Any]:
    response = await client.get(f"/api/gallery/models/{model_id}")
    return response.status, await response.json()


def path_of(url: str) -> str:
    """The URL as the test client requests it (same server), query included."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def unsigned(url: str) -> str:
    return urlsplit(url).path


async def status_of(client: Client, url: str) -> int:
    return (await client.get(path_of(url), allow_redirects=False)).status


def urls_of(model: Any) -> list[str]:
    return [model[field] for field in ("modelUrl", "mtlUrl", "textureUrl", "glbUrl", "stlUrl")]


async def test_a_listed_model_is_public_and_turning_private_closes_it_at_once(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await stored_model(client, alice, sessionmaker)
    public = [*urls_of(model), model["previewImageUrl"]]
    assert all("sig=" not in url for url in public)
    for url in public:
        for prefix in ("/files/", "/api/proxy/files/"):
            response = await client.get(unsigned(url).replace("/files/", prefix, 1))
            assert response.status == 200, url
            assert response.headers["Cache-Control"] == "public, max-age=300"
            assert response.headers["Access-Control-Allow-Origin"] == "*"

    path = f"/api/models/{model['id']}/visibility"
    changed = await client.patch(path, json={"visibility": "PRIVATE"}, headers=auth(alice))
    assert changed.status == 200
    for url in public:
        for prefix in ("/files/", "/api/proxy/files/"):
            response = await client.get(unsigned(url).replace("/files/", prefix, 1))
            assert response.status == 404, url
            body = await response.json()
            assert (body["status"], body["data"]["code"]) == ("fail", "NOT_FOUND")

    # the owner still gets every file, through signed URLs that expire
    private = await owner_view(client, alice, model["id"])
    for url in [*urls_of(private), private["previewImageUrl"]]:
        assert "exp=" in url, url
        assert "sig=" in url, url
        response = await client.get(path_of(url))
        assert response.status == 200, url
        assert response.headers["Cache-Control"] == "private, max-age=300"
    assert (await anonymous_view(client, model["id"]))[0] == 404


async def test_an_expired_or_forged_signature_is_refused(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await stored_model(client, alice, sessionmaker)
    await client.patch(
        f"/api/models/{model['id']}/visibility", json={"visibility": "PRIVATE"}, headers=auth(alice)
    )
    key = f"models/{model['id']}/model.obj"
    signer = FileSigner(TEST_FILE_URL_SECRET)
    expired = signer.query(key, expires_in=-1)
    response = await client.get(f"/files/{key}?{expired}")
    assert response.status == 403
    assert (await response.json())["data"]["code"] == "LINK_EXPIRED"
    valid = signer.query(key, expires_in=60)
    assert (await client.get(f"/files/{key}?{valid}")).status == 200
    other = f"models/{model['id']}/model.glb"
    for query in (
        valid.replace("sig=", "sig=x"),  # tampered
        valid.replace("exp=", "exp=9"),  # a later expiry than was signed
        "exp=99999999999&sig=abc",
        "sig=abc",
        "exp=123",
    ):
        response = await client.get(f"/files/{key}?{query}")
        assert response.status == 403, query
        assert (await response.json())["data"]["code"] == "LINK_INVALID"
    # a signature opens the file it was made for, no other
    assert (await client.get(f"/files/{other}?{valid}")).status == 403
    forged = FileSigner("another-secret-that-is-32-characters-long").query(key, expires_in=60)
    assert (await client.get(f"/files/{key}?{forged}")).status == 403


async def test_task_pictures_are_never_public(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await stored_model(client, alice, sessionmaker)
    task = await client.get(f"/api/tasks/{model['requestId']}", headers=auth(alice))
    images = (await task.json())["data"]["images"]
    for image in images:
        url = image["imageUrl"]
        assert "sig=" in url
        assert (await client.get(path_of(url))).status == 200  # the owner's signed URL
        assert (await client.get(unsigned(url))).status == 404  # without it: nothing
    # not even the chosen picture of a listed model, by its task path
    assert (await client.get(f"/files/images/{model['requestId']}/1.png")).status == 404


async def test_the_public_detail_leaks_no_path_to_the_task(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await stored_model(client, alice, sessionmaker)
    request_id = model["requestId"]
    assert request_id  # the owner sees it
    status, body = await anonymous_view(client, model["id"])
    assert status == 200
    public = body["data"]
    assert public["requestId"] is None
    assert public["previewImageUrl"].endswith(f"/files/models/{model['id']}/preview.png")
    assert request_id not in str(public)
    assert (await client.get(unsigned(public["previewImageUrl"]))).status == 200
    as_bob = await client.get(f"/api/gallery/models/{model['id']}", headers=auth(bob))
    assert (await as_bob.json())["data"]["requestId"] is None
    gallery = await client.get("/api/gallery/models?sort=latest&limit=50")
    assert request_id not in await gallery.text()
    toggled = await client.post(
        f"/api/gallery/models/{model['id']}/interactions",
        json={"type": "FAVORITE"},
        headers=auth(bob),
    )
    assert toggled.status == 200
    favorites = await client.get("/api/users/favorites", headers=auth(bob))
    assert request_id not in await favorites.text()


async def test_an_mtl_served_signed_names_signed_textures(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await stored_model(client, alice, sessionmaker)
    public = await client.get(unsigned(model["mtlUrl"]))
    texture = (await public.text()).split()[-1]
    assert texture == unsigned_url(model["textureUrl"])
    await client.patch(
        f"/api/models/{model['id']}/visibility", json={"visibility": "PRIVATE"}, headers=auth(alice)
    )
    private = await owner_view(client, alice, model["id"])
    signed = await client.get(path_of(private["mtlUrl"]))
    texture = (await signed.text()).split()[-1]
    assert "sig=" in texture
    assert (await client.get(path_of(texture))).status == 200


def unsigned_url(url: str) -> str:
    return url.split("?", 1)[0]


@pytest.mark.parametrize(
    ("overrides", "public_base", "signed_path"),
    [
        ({"files_path_prefix": "/api/proxy/files/"}, None, "/api/proxy/files/"),
        (
            {"public_files_base_url": "https://cdn.example.com/lumi/"},
            "https://cdn.example.com/lumi/",
            "/files/",
        ),
    ],
)
async def test_settings_choose_the_prefix_and_the_public_base(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
    sessionmaker: Sessions,
    overrides: dict[str, str],
    public_base: str | None,
    signed_path: str,
) -> None:
    settings = settings_factory(**overrides)
    client = await aiohttp_client(create_app(settings))
    model = await stored_model(client, alice, sessionmaker)
    api = settings.base_url + settings.files_path_prefix
    assert model["modelUrl"] == (public_base or api) + f"models/{model['id']}/model.obj"
    task = await client.get(f"/api/tasks/{model['requestId']}", headers=auth(alice))
    image = (await task.json())["data"]["images"][0]["imageUrl"]
    assert urlsplit(image).path.startswith(signed_path)
    assert image.startswith(settings.base_url)  # signed URLs are always the API's
    assert (await client.get(path_of(image))).status == 200


async def test_on_s3_the_api_redirects_to_a_presigned_get(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
    sessionmaker: Sessions,
    s3_server: S3Server,
) -> None:
    bucket = await s3_server.create_bucket()
    env = {name.lower(): value for name, value in s3_server.env(bucket, "api").items()}
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(settings_factory(storage_dir=None, **env))
    )
    model = await stored_model(client, alice, sessionmaker)
    response = await client.get(unsigned(model["glbUrl"]), allow_redirects=False)
    assert response.status == 302
    location = response.headers["Location"]
    assert location.startswith(f"{s3_server.endpoint_url}/{bucket}/api/models/{model['id']}/")
    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["600"]
    async with aiohttp.ClientSession() as session, session.get(location) as fetched:
        assert (fetched.status, await fetched.read()) == (200, b"model.glb")
    mtl = await client.get(unsigned(model["mtlUrl"]))  # rewritten by the API, not redirected
    assert (mtl.status, (await mtl.text()).split()[-1]) == (200, unsigned_url(model["textureUrl"]))
    preview = await client.get(unsigned(model["previewImageUrl"]), allow_redirects=False)
    assert preview.status == 302
    assert f"/{bucket}/api/images/{model['requestId']}/1.png?" in preview.headers["Location"]
    await client.patch(
        f"/api/models/{model['id']}/visibility", json={"visibility": "PRIVATE"}, headers=auth(alice)
    )
    assert (await client.get(unsigned(model["glbUrl"]), allow_redirects=False)).status == 404
