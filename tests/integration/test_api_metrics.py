"""`GET /metrics` of the API: parsed as Prometheus parses it; requests counted by route template
and status (never by raw path); the outbox, relay, gallery cache, pool and stream series; not
rate-limited; on its own port with `METRICS_PORT`; absent with `METRICS_ENABLED=false`."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.settings import ApiSettings
from lumi_common.ids import new_id
from lumi_common.redis_client import RedisClient
from lumi_common.streams.names import JOB_STREAMS
from tests.support.api import Client, issue
from tests.support.factories import create_task
from tests.support.gallery import auth
from tests.support.metrics import Scrape, parse
from tests.support.pipeline import relay_all
from tests.support.processes import free_port

Sessions = async_sessionmaker[AsyncSession]
TASK_ROUTE = "/api/v1/tasks/{task_id}"


async def metrics(client: Client) -> Scrape:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    return parse(await response.text())


async def test_requests_are_counted_by_route_template_and_status(
    client: Client, sessionmaker: Sessions
) -> None:
    token = await issue(sessionmaker)
    before = await metrics(client)
    unknown = new_id()
    assert (await client.get(f"/api/v1/tasks/{unknown}")).status == 401
    assert (await client.get(f"/api/v1/tasks/{unknown}", headers=auth(token))).status == 404
    assert (await client.get(f"/api/v1/tasks/{new_id()}", headers=auth(token))).status == 404
    assert (await client.get("/no/such/page")).status == 404
    assert (await client.request("TRACE", "/no/such/pot")).status == 404
    after = await metrics(client)

    def delta(name: str, **labels: str) -> float:
        return after.delta(before, name, **labels)

    get_task = {"method": "GET", "route": TASK_ROUTE}
    assert delta("lumi_http_requests_total", status="401", **get_task) == 1
    assert delta("lumi_http_requests_total", status="404", **get_task) == 2
    assert delta("lumi_http_request_duration_seconds_count", **get_task) == 3
    assert delta("lumi_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert delta("lumi_http_requests_total", method="OTHER", route="unmatched") == 1
    assert after.families["lumi_http_request_duration_seconds"] == "histogram"
    routes = {dict(labels).get("route", "") for _, labels in after.samples}
    assert not any(unknown in route or "/no/such" in route for route in routes)


@pytest.mark.usefixtures("empty_outbox")
async def test_outbox_rows_due_their_age_and_the_relay_latency(
    client: Client, sessionmaker: Sessions, redis: RedisClient, key_prefix: str
) -> None:
    empty = await metrics(client)
    assert empty.value("lumi_outbox_due_rows") == 0
    assert empty.value("lumi_outbox_oldest_due_age_seconds") == 0
    await create_task(sessionmaker)  # 4 image jobs, 4 outbox rows; this app runs no relay
    due = await metrics(client)
    assert due.value("lumi_outbox_due_rows") == 4
    assert due.value("lumi_outbox_oldest_due_age_seconds") > 0
    assert await relay_all(sessionmaker, redis, key_prefix) == 4
    relayed = await metrics(client)
    assert relayed.value("lumi_outbox_due_rows") == 0
    assert relayed.delta(due, "lumi_relay_publish_latency_seconds_count", publisher="relay") == 4
    assert relayed.value("lumi_stream_length", stream="image-jobs") == 4
    for stream in JOB_STREAMS:
        assert relayed.has("lumi_stream_dead_letters", stream=stream)
    assert relayed.has("lumi_db_pool_connections_in_use")


async def test_gallery_cache_hits_and_misses(
    settings_factory: Callable[..., ApiSettings], aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(create_app(settings_factory(gallery_cache_seconds=60)))
    page = "/api/gallery/models?sortBy=latest&limit=20&offset=0"  # a page size that is cached
    before = await metrics(client)
    for _ in range(3):
        assert (await client.get(page)).status == 200
    after = await metrics(client)
    assert after.delta(before, "lumi_gallery_cache_lookups_total", result="miss") == 1
    assert after.delta(before, "lumi_gallery_cache_lookups_total", result="hit") == 2


async def test_metrics_are_not_rate_limited(
    settings_factory: Callable[..., ApiSettings], aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(create_app(settings_factory(rate_limit_per_minute=1)))
    for _ in range(3):
        await metrics(client)
    assert (await client.get("/api/gallery/models")).status == 200
    assert (await client.get("/api/gallery/models")).status == 429


async def test_metrics_port_serves_them_alone(
    settings_factory: Callable[..., ApiSettings], aiohttp_client: AiohttpClient
) -> None:
    port = free_port()
    client = await aiohttp_client(create_app(settings_factory(metrics_port=port)))
    assert (await client.get("/metrics")).status == 404
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        page = parse(await response.text())
    assert page.has("lumi_outbox_due_rows")


async def test_metrics_can_be_turned_off(
    settings_factory: Callable[..., ApiSettings], aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(create_app(settings_factory(metrics_enabled=False)))
    response = await client.get("/metrics")
    assert response.status == 404
    assert response.content_type == "application/json"  # the API's own JSend 404


def test_metrics_port_must_differ_from_the_port(
    settings_factory: Callable[..., ApiSettings],
) -> None:
    with pytest.raises(ValueError, match="METRICS_PORT"):
        settings_factory(port=4000, metrics_port=4000)
