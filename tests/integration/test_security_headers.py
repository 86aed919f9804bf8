"""Security headers on every response (issue 12, point 15): `nosniff` and `Referrer-Policy`
everywhere, a CSP on HTML pages, HSTS in production only."""

from __future__ import annotations

from collections.abc import Callable

from pytest_aiohttp import AiohttpClient

from lumi_api.app import create_app
from lumi_api.keys import STORAGE
from lumi_api.settings import ApiSettings
from tests.support.api import Client


async def test_every_kind_of_response_carries_them(client: Client) -> None:
    await client.app[STORAGE].put("images/x/0.png", b"\x89PNG", "image/png")
    responses = {
        "json": await client.get("/api/health/live"),
        "fail": await client.get("/api/tasks"),  # 401
        "unknown route": await client.get("/api/nope"),
        "file": await client.get("/files/images/x/0.png"),
        "yaml": await client.get("/api/openapi"),
        "page": await client.get("/api/docs"),
        "preflight": await client.options(
            "/api/tasks",
            headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
        ),
    }
    for name, response in responses.items():
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Referrer-Policy"] == "no-referrer", name
        assert "Strict-Transport-Security" not in response.headers, name
        has_csp = "Content-Security-Policy" in response.headers
        assert has_csp == (response.content_type == "text/html"), name
    assert responses["page"].headers["X-Frame-Options"] == "DENY"


async def test_hsts_in_production(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> None:
    settings = settings_factory(
        app_env="production",
        public_base_url="https://api.example.com",
        cors_origins="https://lumi.example.com",
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_from="no-reply@lumi.example.com",
    )
    client = await aiohttp_client(create_app(settings))
    for path in ("/api/health/live", "/api/nope", "/api/docs"):
        response = await client.get(path)
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000"), path
