"""`GET /files/<key>`: stored files with their type, and nothing outside the store. Who may fetch
what (public, private, signed) is tests/integration/test_file_access.py."""

from __future__ import annotations

import pytest
from yarl import URL

from lumi_api.keys import STORAGE
from lumi_api.settings import ApiSettings
from lumi_common.storage.signing import FileSigner
from tests.conftest import TEST_FILE_URL_SECRET
from tests.support.api import Client

SIGNER = FileSigner(TEST_FILE_URL_SECRET)


def signed(key: str) -> str:
    return f"/files/{key}?{SIGNER.query(key, expires_in=60)}"


async def test_a_stored_file_is_served_with_its_type(client: Client) -> None:
    storage = client.app[STORAGE]
    await storage.put("images/01TASK/0.png", b"\x89PNG fake", "image/png")
    # (a model's files are served while its row exists: test_file_access)
    await storage.put("work/01TASK/model.obj", b"v 0 0 0\n", "text/plain")
    response = await client.get(signed("images/01TASK/0.png"), headers={"Origin": "https://x.test"})
    assert response.status == 200
    assert await response.read() == b"\x89PNG fake"
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "private, max-age=300"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    obj = await client.get(signed("work/01TASK/model.obj"))
    assert obj.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert await obj.text() == "v 0 0 0\n"
    assert (await client.head(signed("images/01TASK/0.png"))).status == 200
    proxied = await client.get(
        signed("images/01TASK/0.png").replace("/files/", "/api/proxy/files/")
    )
    assert (proxied.status, await proxied.read()) == (200, b"\x89PNG fake")


@pytest.mark.parametrize(
    "path",
    [
        "/files/images/nothing.png",
        "/files/images/%2e%2e/%2e%2e/etc/passwd",
        "/files/images/../../etc/passwd",
        "/files/..%2f..%2fetc%2fpasswd",
        "/files/%2Fetc%2Fpasswd",
        "/files/images/.hidden.png",
        "/files/images/01TASK",  # a folder is not a file
        "/api/proxy/files/images/%2e%2e/%2e%2e/etc/passwd",
    ],
)
async def test_missing_and_escaping_keys_are_a_jsend_404(client: Client, path: str) -> None:
    await client.app[STORAGE].put("images/01TASK/0.png", b"png", "image/png")
    # sent as written: a client would resolve `..` itself, the server must not rely on that
    response = await client.get(URL(path, encoded=True))
    assert response.status == 404
    body = await response.json()
    # the router itself resolves a literal `..`, so some of these never reach the handler
    assert (body["status"], body["data"]["code"]) == ("fail", "NOT_FOUND")


async def test_a_signed_missing_file_is_a_404(client: Client) -> None:
    assert (await client.get(signed("images/01TASK/9.png"))).status == 404


async def test_an_mtl_names_its_texture_by_an_absolute_url(
    client: Client, api_settings: ApiSettings
) -> None:
    storage = client.app[STORAGE]
    await storage.put("work/01MODEL/material.mtl", b"newmtl m\nmap_Kd material.png\n", "text/plain")
    response = await client.get(signed("work/01MODEL/material.mtl"))
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    texture = f"{api_settings.base_url}/files/work/01MODEL/material.png?exp="
    statement, url = (await response.text()).splitlines()[1].split()
    assert statement == "map_Kd"
    assert url.startswith(texture)
