"""`/api/webhooks` and `callbackUrl`: registering (the secret shown once), listing, deleting,
refusing bad input as JSend; which task changes queue deliveries, in the change's transaction.
The delivery guards (addresses, redirects, time and size limits) against local servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.settings import ApiSettings
from lumi_common import jsonx
from lumi_common.db.tables import GenerationRequest, OutboxEvent, WebhookDelivery
from lumi_common.errors import PermanentError, RetryableError
from lumi_common.ids import new_id
from lumi_common.streams.names import WEBHOOK_JOBS
from lumi_webhook_worker.delivery import Sender
from tests.support.api import Client, finish_images
from tests.support.processes import free_port

Sessions = async_sessionmaker[AsyncSession]


@pytest_asyncio.fixture
async def client(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> Client:
    return await aiohttp_client(create_app(settings_factory(webhook_max_endpoints=3)))


def auth(token: IssuedToken) -> dict[str, str]:
    return {"Authorization": token.header}


async def register(client: Client, token: IssuedToken, **body: object) -> tuple[int, Any]:
    response = await client.post("/api/webhooks", json=body, headers=auth(token))
    return response.status, (await response.json())["data"]


async def test_register_list_and_delete_with_the_secret_shown_once(
    client: Client, alice: IssuedToken, bob: IssuedToken
) -> None:
    status, created = await register(
        client, alice, url="https://hooks.example.com/lumi", eventTypes=["task.completed"]
    )
    assert status == 201
    assert created["secret"].startswith("whsec_")
    assert created["eventTypes"] == ["task.completed"]
    _, every = await register(client, alice, url="https://hooks.example.com/all")
    assert sorted(every["eventTypes"]) == sorted(
        ["task.images_completed", "task.completed", "task.failed", "task.cancelled"]
    )
    listed = await (await client.get("/api/webhooks", headers=auth(alice))).json()
    assert [item["id"] for item in listed["data"]["items"]] == [every["id"], created["id"]]
    assert all("secret" not in item for item in listed["data"]["items"])
    assert (await (await client.get("/api/webhooks", headers=auth(bob))).json())["data"] == {
        "items": [],
        "total": 0,
    }
    others = await client.delete(f"/api/webhooks/{created['id']}", headers=auth(bob))
    assert others.status == 404  # someone else's is nobody's
    deleted = await client.delete(f"/api/webhooks/{created['id']}", headers=auth(alice))
    assert deleted.status == 200
    again = await client.delete(f"/api/webhooks/{created['id']}", headers=auth(alice))
    assert again.status == 404


async def test_bad_webhooks_are_jsend_failures(client: Client, alice: IssuedToken) -> None:
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"url": "ftp://example.com/x"}, 400, "WEBHOOK_URL_NOT_ALLOWED"),
        ({"url": "https://user:pw@example.com/x"}, 400, "WEBHOOK_URL_NOT_ALLOWED"),
        ({"url": "http://127.0.0.1:8080/x"}, 400, "WEBHOOK_URL_NOT_ALLOWED"),
        ({"url": "http://[::1]/x"}, 400, "WEBHOOK_URL_NOT_ALLOWED"),
        ({"url": "http://10.1.2.3/x"}, 400, "WEBHOOK_URL_NOT_ALLOWED"),
        ({"url": "https://example.com/" + "x" * 2000}, 400, "WEBHOOK_URL_NOT_ALLOWED"),
        ({"url": "https://example.com/x", "eventTypes": ["task.exploded"]}, 400, None),
        ({"url": "https://example.com/x", "eventTypes": []}, 400, None),
        ({"url": 42}, 400, None),
        ({}, 400, None),
    ]
    for body, status, code in cases:
        got, data = await register(client, alice, **body)
        assert got == status, (body, data)
        assert data["message"]
        if code is not None:
            assert data["code"] == code, body
    for _ in range(3):
        assert (await register(client, alice, url="https://example.com/x"))[0] == 201
    got, data = await register(client, alice, url="https://example.com/x")
    assert (got, data["code"]) == (409, "TOO_MANY_WEBHOOKS")


async def test_the_callback_secret_is_the_same_every_time(
    client: Client, alice: IssuedToken, bob: IssuedToken
) -> None:
    first = await (await client.get("/api/webhooks/secret", headers=auth(alice))).json()
    second = await (await client.get("/api/webhooks/secret", headers=auth(alice))).json()
    assert first["data"]["secret"] == second["data"]["secret"]
    assert first["data"]["secret"].startswith("whsec_")
    theirs = await (await client.get("/api/webhooks/secret", headers=auth(bob))).json()
    assert theirs["data"]["secret"] != first["data"]["secret"]


async def webhook_rows(sessions: Sessions, task_id: str) -> list[WebhookDelivery]:
    async with sessions() as session:
        query = select(WebhookDelivery).where(WebhookDelivery.request_id == task_id)
        return list(await session.scalars(query.order_by(WebhookDelivery.url)))


async def test_status_changes_queue_one_delivery_per_wanting_url_with_its_outbox_event(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    await register(client, alice, url="https://a.example.com/done", eventTypes=["task.completed"])
    await register(client, alice, url="https://b.example.com/stop", eventTypes=["task.cancelled"])
    created = await client.post(
        "/api/tasks",
        json={"prompt": "a kite", "callbackUrl": "https://c.example.com/cb"},
        headers=auth(alice),
    )
    assert created.status == 201
    task_id = (await created.json())["data"]["id"]
    async with sessionmaker() as session:
        request = await session.get(GenerationRequest, task_id)
        assert request is not None
        assert request.callback_url == "https://c.example.com/cb"
    assert await webhook_rows(sessionmaker, task_id) == []  # creating is no event

    assert (await client.post(f"/api/tasks/{task_id}/cancel", headers=auth(alice))).status == 200
    rows = await webhook_rows(sessionmaker, task_id)
    assert [(row.url, row.event_type) for row in rows] == [
        ("https://b.example.com/stop", "task.cancelled"),
        ("https://c.example.com/cb", "task.cancelled"),
    ]
    body = jsonx.loads(rows[0].payload)
    assert body["type"] == "task.cancelled"
    assert body["data"]["id"] == task_id
    assert body["data"]["status"] == "CANCELLED"
    assert rows[1].endpoint_id is None  # the callback: signed with the user's callback secret
    async with sessionmaker() as session:
        events = await session.scalars(
            select(OutboxEvent.key).where(OutboxEvent.stream == WEBHOOK_JOBS)
        )
        assert {row.id for row in rows} <= set(events)


async def test_the_apps_task_body_is_unchanged_and_a_bad_callback_url_is_a_400(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    plain = await client.post("/api/tasks", json={"prompt": "a kite"}, headers=auth(alice))
    assert plain.status == 201
    bad = await client.post(
        "/api/tasks",
        json={"prompt": "a kite", "callbackUrl": "http://169.254.169.254/latest/meta-data"},
        headers=auth(alice),
    )
    assert bad.status == 400
    assert (await bad.json())["data"]["code"] == "WEBHOOK_URL_NOT_ALLOWED"
    task_id = (await plain.json())["data"]["id"]
    await finish_images(sessionmaker, task_id)  # a direct write: no status transition event
    assert await webhook_rows(sessionmaker, task_id) == []


# -- the delivery guards ---------------------------------------------------------------------


@pytest_asyncio.fixture
async def local_server() -> AsyncIterator[str]:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(status=204)

    async def moved(_: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/ok"})

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(status=200)

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        await response.prepare(request)
        for _ in range(1024):  # 64 MiB if anyone read it all
            await response.write(b"x" * 65536)
        return response

    app = web.Application()
    for path, handler in (("/ok", ok), ("/moved", moved), ("/slow", slow), ("/huge", huge)):
        app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


def sender(*, allow_private: bool) -> Sender:
    return Sender(timeout_seconds=1.0, max_response_bytes=1024, allow_private=allow_private)


async def test_no_delivery_reaches_a_private_address_by_ip_or_by_name(local_server: str) -> None:
    port = local_server.rsplit(":", 1)[1]
    async with sender(allow_private=False) as guarded:
        for url in (f"http://{local_server}/ok", f"http://localhost:{port}/ok"):
            with pytest.raises(PermanentError):
                await guarded.post(url, body=b"{}", headers={})
    async with sender(allow_private=True) as open_:
        answer = await open_.post(f"http://localhost:{port}/ok", body=b"{}", headers={})
        assert answer.status == 204


async def test_redirects_time_limits_and_big_answers(local_server: str) -> None:
    async with sender(allow_private=True) as http:
        with pytest.raises(RetryableError, match="HTTP 302"):  # not followed
            await http.post(f"http://{local_server}/moved", body=b"{}", headers={})
        started = asyncio.get_running_loop().time()
        with pytest.raises(RetryableError, match="no answer"):
            await http.post(f"http://{local_server}/slow", body=b"{}", headers={})
        assert asyncio.get_running_loop().time() - started < 3
        answer = await http.post(f"http://{local_server}/huge", body=b"{}", headers={})
        assert answer.status == 200  # read up to the cap, the rest dropped with the connection


async def test_an_unknown_webhook_id_is_a_404(client: Client, alice: IssuedToken) -> None:
    response = await client.delete(f"/api/webhooks/{new_id()}", headers=auth(alice))
    assert response.status == 404
    assert (await response.json())["data"]["code"] == "NOT_FOUND"
