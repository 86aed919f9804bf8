"""Webhooks end to end: the API, the webhook worker and `lumi` as processes, and a local receiver
that verifies every signature with the `standardwebhooks` package."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import WebhookDelivery
from lumi_common.states import JobStatus
from tests.support.api import unique_email
from tests.support.processes import free_port
from tests.support.services import Services
from tests.support.webhook_receiver import Hook, webhook_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("empty_outbox", "no_stuck_jobs")]
Sessions = async_sessionmaker[AsyncSession]
SETTINGS = {"WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_MAX_ATTEMPTS": "3"}


async def until(check: Callable[[], bool], *, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def start(services: Services) -> aiohttp.ClientSession:
    await services.start_api(**SETTINGS)
    await services.start_worker("lumi-webhook-worker", **SETTINGS)
    token = await services.token(unique_email("webhooks"))
    return aiohttp.ClientSession(services.base_url, headers={"Authorization": token})


async def call(http: aiohttp.ClientSession, method: str, path: str, **body: Any) -> Any:
    async with http.request(method, path, json=body or None) as response:
        assert response.status in (200, 201), await response.text()
        return (await response.json())["data"]


async def deliveries(sessions: Sessions, task_id: str) -> list[WebhookDelivery]:
    async with sessions() as session:
        rows = await session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.request_id == task_id)
        )
        return list(rows)


async def test_a_receiver_failing_twice_gets_one_successful_signed_delivery_and_so_does_a_callback(
    services: Services, sessionmaker: Sessions
) -> None:
    async with webhook_receiver("hook", "callback") as receiver, await start(services) as http:
        hook, callback = receiver.hooks["hook"], receiver.hooks["callback"]
        hook.answers = [500, 500]
        created = await call(
            http, "POST", "/api/webhooks", url=receiver.url("hook"), eventTypes=["task.cancelled"]
        )
        hook.secret = created["secret"]
        assert hook.secret.startswith("whsec_")
        listed = await call(http, "GET", "/api/webhooks")
        assert "secret" not in listed["items"][0]  # shown once
        callback.secret = (await call(http, "GET", "/api/webhooks/secret"))["secret"]
        task = await call(
            http, "POST", "/api/tasks", prompt="a paper crane", callbackUrl=receiver.url("callback")
        )
        await call(http, "POST", f"/api/tasks/{task['id']}/cancel")

        await until(lambda: len(hook.succeeded) == 1 and len(callback.succeeded) == 1)
        await asyncio.sleep(1)  # nothing more arrives
    assert [entry["answered"] for entry in hook.received] == [500, 500, 200]
    assert len({entry["id"] for entry in hook.received}) == 1  # one webhook-id on every attempt
    assert (hook.refused, callback.refused) == (0, 0)
    for received in (hook.received[-1], callback.received[0]):
        payload = received["payload"]
        assert payload["type"] == "task.cancelled"
        assert payload["data"]["id"] == task["id"]
        assert payload["data"]["status"] == "CANCELLED"
    rows = {row.url: row for row in await deliveries(sessionmaker, task["id"])}
    assert rows[receiver.url("hook")].status == JobStatus.COMPLETED
    assert rows[receiver.url("hook")].attempt == 3
    assert rows[receiver.url("hook")].response_status == 200
    assert rows[receiver.url("callback")].attempt == 1


async def test_an_unreachable_receiver_ends_in_the_dead_letters_and_a_replay_delivers_it(
    services: Services, sessionmaker: Sessions
) -> None:
    port = free_port()  # nothing listens there yet
    async with await start(services) as http:
        created = await call(
            http, "POST", "/api/webhooks", url=f"http://127.0.0.1:{port}/late", eventTypes=None
        )
        task = await call(http, "POST", "/api/tasks", prompt="a paper lantern")
        await call(http, "POST", f"/api/tasks/{task['id']}/cancel")

        async def failed() -> bool:
            rows = await deliveries(sessionmaker, task["id"])
            return bool(rows) and rows[0].status == JobStatus.FAILED

        deadline = time.monotonic() + 60
        while not await failed():
            assert time.monotonic() < deadline, "the delivery never failed for good"
            await asyncio.sleep(0.2)
        listed = await services.cli("dlq", "list", "--stream", "webhook", "--json")
        assert listed.returncode == 0, listed.stderr
        delivery = (await deliveries(sessionmaker, task["id"]))[0]
        assert [entry["job_id"] for entry in json.loads(listed.stdout)] == [delivery.id]

        late = Hook(secret=created["secret"])
        async with webhook_receiver("late", port=port) as receiver:
            receiver.hooks["late"] = late
            replayed = await services.cli("dlq", "replay", "--stream", "webhook", "--all")
            assert replayed.returncode == 0, replayed.stdout + replayed.stderr
            await until(lambda: len(late.succeeded) == 1)
    assert late.received[0]["payload"]["data"]["id"] == task["id"]
    assert late.refused == 0
    rows = await deliveries(sessionmaker, task["id"])
    assert rows[0].status == JobStatus.COMPLETED
