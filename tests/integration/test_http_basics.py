"""Envelope and CORS rules every route inherits."""

from __future__ import annotations

from collections.abc import Callable

from pytest_aiohttp import AiohttpClient

from lumi_api.app import create_app
from lumi_api.settings import ApiSettings
from lumi_common.i18n import http as common_texts
from tests.support.language import said


async def test_unknown_route_is_a_jsend_404(
    aiohttp_client: AiohttpClient, api_settings: ApiSettings
) -> None:
    client = await aiohttp_client(create_app(api_settings))
    response = await client.get("/api/nothing-here")
    assert response.status == 404
    assert (await response.json()) == {
        "status": "fail",
        "data": {"message": said(common_texts.NOT_FOUND), "code": "NOT_FOUND"},
    }
    assert response.headers["X-Request-ID"]


async def test_wrong_method_is_a_jsend_405(
    aiohttp_client: AiohttpClient, api_settings: ApiSettings
) -> None:
    client = await aiohttp_client(create_app(api_settings))
    response = await client.delete("/api/health")
    assert response.status == 405
    assert (await response.json())["data"]["code"] == "METHOD_NOT_ALLOWED"


async def test_request_id_is_echoed_when_safe(
    aiohttp_client: AiohttpClient, api_settings: ApiSettings
) -> None:
    client = await aiohttp_client(create_app(api_settings))
    response = await client.get("/api/health/live", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    response = await client.get("/api/health/live", headers={"X-Request-ID": "bad id\twith tab"})
    assert response.headers["X-Request-ID"] != "bad id\twith tab"


async def test_cors_preflight_for_the_web_app_in_development(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> None:
    client = await aiohttp_client(create_app(settings_factory(app_env="development")))
    response = await client.options(
        "/api/tasks",
        headers={
            "Origin": "http://localhost:4100",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:4100"
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_cors_refuses_unknown_origins_in_production(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> None:
    settings = settings_factory(
        app_env="production",
        public_base_url="https://api.example.com",
        cors_origins="https://lumi.example.com",
        email_backend="smtp",  # production refuses the console backend
        smtp_host="127.0.0.1",
        smtp_from="no-reply@lumi.example.com",
    )
    client = await aiohttp_client(create_app(settings))
    allowed = await client.get("/api/health/live", headers={"Origin": "https://lumi.example.com"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://lumi.example.com"
    refused = await client.get("/api/health/live", headers={"Origin": "http://localhost:4100"})
    assert "Access-Control-Allow-Origin" not in refused.headers
