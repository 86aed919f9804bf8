from __future__ import annotations

from collections.abc import Callable

from pytest_aiohttp import AiohttpClient

from lumi_api.app import create_app
from lumi_api.settings import ApiSettings


async def test_health_reports_database_and_redis(
    aiohttp_client: AiohttpClient, api_settings: ApiSettings
) -> None:
    client = await aiohttp_client(create_app(api_settings))
    for path in ("/api/health", "/api/v1/health"):
        response = await client.get(path)
        assert response.status == 200
        assert response.content_type == "application/json"
        assert await response.json() == {
            "status": "success",
            "data": {"status": "ok", "database": "ok", "redis": "ok"},
        }


async def test_health_is_503_jsend_error_when_redis_is_down(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> None:
    client = await aiohttp_client(create_app(settings_factory(redis_url="redis://127.0.0.1:1/0")))
    response = await client.get("/api/health")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "error"
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert body["data"] == {"database": "ok", "redis": "down"}


async def test_health_is_503_when_the_database_is_down(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> None:
    settings = settings_factory(database_url="mysql://root@127.0.0.1:1/nothing")
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/health")
    assert response.status == 503
    assert (await response.json())["data"] == {"database": "down", "redis": "ok"}


async def test_liveness_needs_no_dependency(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> None:
    client = await aiohttp_client(create_app(settings_factory(redis_url="redis://127.0.0.1:1/0")))
    response = await client.get("/api/health/live")
    assert response.status == 200
    assert await response.json() == {"status": "success", "data": {"status": "ok"}}
