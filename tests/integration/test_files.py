"""`GET /files/<key>`: stored files at public, cacheable URLs, and nothing outside the store."""

from __future__ import annotations

import pytest
from yarl import URL

from lumi_api.keys import STORAGE
from lumi_api.settings import ApiSettings
from tests.support.api import Client


async def test_a_stored_file_is_served_publicly_with_its_type(
    client: Client, api_settings: ApiSettings
) -> None:
    storage = client.app[STORAGE]
    await storage.put("images/01TASK/0.png", b"\x89PNG fake", "image/png")
    await storage.put("models/01MODEL/model.obj", b"v 0 0 0\n", "text/plain")
    response = await client.get("/files/images/01TASK/0.png", headers={"Origin": "https://x.test"})
    assert response.status == 200
    assert await response.read() == b"\x89PNG fake"
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    obj = await client.get("/files/models/01MODEL/model.obj")
    assert obj.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert await obj.text() == "v 0 0 0\n"
    assert (await client.head("/files/images/01TASK/0.png")).status == 200


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


async def test_an_mtl_names_its_texture_by_an_absolute_url(
    client: Client, api_settings: ApiSettings
) -> None:
    storage = client.app[STORAGE]
    await storage.put(
        "models/01MODEL/material.mtl", b"newmtl m\nmap_Kd material.png\n", "text/plain"
    )
    response = await client.get("/files/models/01MODEL/material.mtl")
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    texture = f"{api_settings.base_url}/files/models/01MODEL/material.png"
    assert await response.text() == f"newmtl m\nmap_Kd {texture}\n"
