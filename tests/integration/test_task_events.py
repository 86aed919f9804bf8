"""`GET /api/tasks/{id}/events`: the task at connect, one event per announced change in order
with `updatedAt` as the id, `Last-Event-ID` resuming, the end of a finished or deleted task,
and the same answers as every route for a bad caller or input."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.auth.cookies import SESSION_COOKIE
from lumi_api.auth.service import IssuedToken
from lumi_api.keys import SESSION_COOKIES
from lumi_api.settings import ApiSettings
from lumi_common.db.engine import create_sessionmaker
from lumi_common.ids import new_id
from lumi_common.pipeline.requests import lock_request, touch
from lumi_common.redis_client import RedisClient
from lumi_common.states import RequestStatus
from lumi_common.task_changes import TaskChanges
from tests.support.api import Client
from tests.support.sse import Event, EventReader

Sessions = async_sessionmaker[AsyncSession]


@pytest_asyncio.fixture
async def client(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> Client:
    # a short re-check: the test of a change nobody announced does not wait long
    return await aiohttp_client(create_app(settings_factory(sse_recheck_seconds=1.0)))


@pytest_asyncio.fixture
async def worker_sessions(
    engine: AsyncEngine, redis: RedisClient, key_prefix: str
) -> AsyncIterator[Sessions]:
    """Sessions announcing what they change, as a worker process's are."""
    sessions = create_sessionmaker(engine)
    announcer = TaskChanges(redis, key_prefix=key_prefix)
    announcer.attach(sessions)
    yield sessions
    await announcer.aclose()


async def create_task(client: Client, token: IssuedToken) -> str:
    response = await client.post("/api/tasks", json={"prompt": "a lantern"}, headers=auth(token))
    assert response.status == 201
    return str((await response.json())["data"]["id"])


def auth(token: IssuedToken, **headers: str) -> dict[str, str]:
    return {"Authorization": token.header, **headers}


async def progress(sessions: Sessions, task_id: str, status: RequestStatus | None = None) -> None:
    """A change as the workers make one: under the request's lock, `updated_at` bumped."""
    async with sessions.begin() as session:
        request = await lock_request(session, task_id)
        assert request is not None
        touch(request)
        if status is not None:
            request.status = status


async def open_stream(client: Client, task_id: str, **headers: str) -> EventReader:
    response = await client.get(f"/api/tasks/{task_id}/events", headers=headers)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    return EventReader(response)


def check_task(event: Event | None, task_id: str, status: str) -> dict[str, Any]:
    assert event is not None
    assert event.event == "message"
    task: dict[str, Any] = event.json()
    assert (task["id"], task["status"]) == (task_id, status)
    assert event.id == task["updatedAt"]
    return task


async def test_events_come_in_order_with_the_task_as_the_status_route_answers_it(
    client: Client, alice: IssuedToken, worker_sessions: Sessions
) -> None:
    task_id = await create_task(client, alice)
    stream = await open_stream(client, task_id, **auth(alice))
    first = check_task(await stream.next(), task_id, "IMAGE_PENDING")
    status = await client.get(f"/api/tasks/{task_id}/status", headers=auth(alice))
    assert first == (await status.json())["data"]  # the status route's shape, field for field

    events = []
    for _ in range(2):  # one at a time: changes that commit during a read arrive as one event
        await progress(worker_sessions, task_id, RequestStatus.IMAGE_GENERATING)
        events.append(await stream.next())
        check_task(events[-1], task_id, "IMAGE_GENERATING")
    cancelled = await client.post(f"/api/tasks/{task_id}/cancel", headers=auth(alice))
    assert cancelled.status == 200
    last = check_task(await stream.next(), task_id, "CANCELLED")
    assert last == (await cancelled.json())["data"]
    end = await stream.next()
    assert end is not None
    assert end.event == "end"
    assert await stream.next() is None  # closed after the finished task

    ids = [first["updatedAt"], *(e.id for e in events if e is not None), last["updatedAt"]]
    assert ids == sorted(ids)  # ISO-8601 with ms and Z: text order is time order
    assert len(set(ids)) == 4


async def test_a_reconnect_with_last_event_id_gets_what_it_missed_and_nothing_twice(
    client: Client, alice: IssuedToken, worker_sessions: Sessions
) -> None:
    task_id = await create_task(client, alice)
    stream = await open_stream(client, task_id, **auth(alice))
    seen = check_task(await stream.next(), task_id, "IMAGE_PENDING")
    stream.response.close()  # the connection drops

    await progress(worker_sessions, task_id, RequestStatus.IMAGE_GENERATING)
    await progress(worker_sessions, task_id, RequestStatus.IMAGE_COMPLETED)
    resumed = await open_stream(
        client, task_id, **auth(alice, **{"Last-Event-ID": seen["updatedAt"]})
    )
    missed = check_task(await resumed.next(), task_id, "IMAGE_COMPLETED")
    assert missed["updatedAt"] > seen["updatedAt"]
    resumed.response.close()

    # resuming from the latest id: nothing is sent again until the next change
    latest = {"Last-Event-ID": missed["updatedAt"]}
    current = await open_stream(client, task_id, **auth(alice, **latest))
    await progress(worker_sessions, task_id, RequestStatus.MODEL_PENDING)
    after = check_task(await current.next(), task_id, "MODEL_PENDING")
    assert after["updatedAt"] > missed["updatedAt"]
    current.response.close()


async def test_a_change_nobody_announced_arrives_with_the_periodic_check(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    task_id = await create_task(client, alice)
    stream = await open_stream(client, task_id, **auth(alice))
    check_task(await stream.next(), task_id, "IMAGE_PENDING")
    await progress(sessionmaker, task_id, RequestStatus.IMAGE_GENERATING)  # no announcer
    check_task(await stream.next(within=5), task_id, "IMAGE_GENERATING")
    stream.response.close()


async def test_a_finished_task_ends_at_once_and_a_deleted_one_says_so(
    client: Client, alice: IssuedToken
) -> None:
    task_id = await create_task(client, alice)
    assert (await client.post(f"/api/tasks/{task_id}/cancel", headers=auth(alice))).status == 200
    events = await (await open_stream(client, task_id, **auth(alice))).all()
    assert [e.event for e in events] == ["message", "end"]
    again = {"Last-Event-ID": str(events[0].id)}  # EventSource reconnecting: only the end
    assert [
        e.event for e in await (await open_stream(client, task_id, **auth(alice, **again))).all()
    ] == ["end"]

    other = await create_task(client, alice)
    stream = await open_stream(client, other, **auth(alice))
    check_task(await stream.next(), other, "IMAGE_PENDING")
    assert (await client.delete(f"/api/tasks/{other}", headers=auth(alice))).status == 200
    deleted = await stream.next()
    assert deleted is not None
    assert deleted.event == "deleted"
    assert await stream.next() is None


async def test_the_session_cookie_opens_a_stream_as_a_browser_does(
    client: Client, alice: IssuedToken
) -> None:
    task_id = await create_task(client, alice)
    holder = web.Response()
    client.app[SESSION_COOKIES].set(holder, alice.token)
    cookie = f"{SESSION_COOKIE}={holder.cookies[SESSION_COOKIE].value}"
    stream = await open_stream(client, task_id, Cookie=cookie, Origin="http://localhost:5173")
    assert stream.response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    check_task(await stream.next(), task_id, "IMAGE_PENDING")
    stream.response.close()


async def test_bad_callers_and_input_get_jsend_answers(
    client: Client, alice: IssuedToken, bob: IssuedToken
) -> None:
    task_id = await create_task(client, alice)
    cases = [
        ({}, task_id, 401, "UNAUTHORIZED"),
        (auth(bob), task_id, 404, "NOT_FOUND"),  # someone else's task is nobody's
        (auth(alice), new_id(), 404, "NOT_FOUND"),
        (auth(alice), "nope", 404, "NOT_FOUND"),
        (auth(alice, **{"Last-Event-ID": "yesterday"}), task_id, 400, "VALIDATION_ERROR"),
    ]
    for headers, target, status, code in cases:
        response = await client.get(f"/api/tasks/{target}/events", headers=headers)
        body = await response.json()
        assert (response.status, body["status"], body["data"]["code"]) == (status, "fail", code)
        assert body["data"]["message"]
