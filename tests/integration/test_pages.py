"""The pages and their files (`lumi_api.web`): only files of the package's static folder, with
their types; the console's page refused to signed-in users who are not administrators; the
try-it page only where enabled; every page under a strict Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_aiohttp import AiohttpClient

from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.settings import ApiSettings
from tests.support.api import Client


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/ops/ops.js", "text/javascript"),
        ("/static/common/base.css", "text/css"),
        ("/static/vendor/three/three.module.js", "text/javascript"),
        ("/static/vendor/three/LICENSE", "text/plain"),
    ],
)
async def test_static_files_are_served_with_their_type(
    client: Client, path: str, content_type: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    again = await client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


@pytest.mark.parametrize(
    "path",
    [
        "/static/nope.js",
        "/static/../web/pages.py",
        "/static/%2e%2e/pages.py",
        "/static/..%2f..%2fsettings.py",
        "/static/ops",
        "/static/../../../../etc/passwd",
    ],
)
async def test_nothing_outside_the_static_files_is_served(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404
    assert (await response.json())["data"]["code"] == "NOT_FOUND"


async def test_the_console_page_is_for_administrators_and_anonymous_visitors(
    client: Client, alice: IssuedToken, admin: IssuedToken
) -> None:
    anonymous = await client.get("/ops")
    assert anonymous.status == 200
    assert "ops.js" in await anonymous.text()
    policy = anonymous.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    user = await client.get("/ops", headers={"Authorization": alice.header})
    assert user.status == 403
    assert "administrators only" in await user.text()
    ok = await client.get("/ops", headers={"Authorization": admin.header})
    assert ok.status == 200


@pytest.mark.parametrize(
    ("overrides", "served"),
    [
        ({"app_env": "development"}, True),
        ({"app_env": "test"}, False),
        ({"app_env": "test", "ui_enabled": True}, True),
        ({"app_env": "development", "ui_enabled": False}, False),
    ],
)
async def test_the_try_it_page_is_served_in_development_or_when_enabled(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    overrides: dict[str, object],
    served: bool,
) -> None:
    client = await aiohttp_client(create_app(settings_factory(**overrides)))
    response = await client.get("/")
    assert response.status == (200 if served else 404)
    if served:
        assert "try.js" in await response.text()
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
