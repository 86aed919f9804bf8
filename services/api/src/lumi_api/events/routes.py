"""`GET /tasks/{task_id}/events`: a task's progress as Server-Sent Events.

Each event is the task as the status route answers it (its `data`), with the task's `updatedAt`
as the event id. Every change a client should see moves `updatedAt` forward, so the id orders
the events, and a reconnect with `Last-Event-ID` (browsers send it themselves) works as
`?since=` does: the task is sent again only if it changed since. The database is read on connect
and after every change notice (`listener`), so what a stream shows is always committed state;
changes that commit while one is being read arrive together as the latest state.

A finished task (completed, failed, cancelled) ends the stream with an `end` event, a deleted
one with `deleted`: EventSource reconnects after any close, so a client closes on those.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import datetime
from enum import Enum

from aiohttp import web
from aiohttp_sse import EventSourceResponse
from sqlalchemy import select

from lumi_api import texts
from lumi_api.auth.current import require_user
from lumi_api.events.listener import TASK_CHANGES
from lumi_api.events.settings import EventStreamSettings
from lumi_api.keys import FILE_URLS, SESSIONMAKER, SETTINGS
from lumi_api.middleware import allow_cors
from lumi_api.routing import add_route
from lumi_api.tasks import service
from lumi_api.tasks.control import FINISHED
from lumi_api.tasks.repository import TaskRecord
from lumi_api.tasks.routes import parse_since
from lumi_api.tasks.schemas import TaskOut
from lumi_common import jsonx
from lumi_common.db.tables import GenerationRequest
from lumi_common.errors import ValidationFailed
from lumi_common.time import iso_ms, truncate_ms

EVENT_STREAM = "text/event-stream"
LAST_EVENT_ID = "Last-Event-ID"
HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and its kin buffer responses by default: an event would wait for the buffer to fill
    "X-Accel-Buffering": "no",
}
# how long a browser waits before reconnecting after a dropped connection
RETRY_MS = 2000


def setup(app: web.Application) -> None:
    add_route(
        app,
        "GET",
        "/tasks/{task_id}/events",
        task_events,
        summary="A task's progress as Server-Sent Events: the task (as the status route answers "
        "it) at connect and after every change, `id` = its `updatedAt`; resume with "
        "`Last-Event-ID`; ends with an `end` (finished) or `deleted` event",
        auth="required",
        tag="tasks",
        content_type=EVENT_STREAM,
        jsend=False,
        response=TaskOut,
        responses=(400,),
    )


async def task_events(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    task_id = request.match_info["task_id"]
    last = _last_event_id(request)
    listener = request.app[TASK_CHANGES]
    with listener.watch(task_id) as woken:
        # read before the stream starts: an unknown task or someone else's is a JSend 404
        task: TaskRecord | None = await _load(request, task_id, user.id, required=True)
        if request.method == "HEAD":
            return web.Response(content_type=EVENT_STREAM, headers=HEADERS)
        stream = EventSourceResponse(
            headers=HEADERS, ping_interval=request.app[SETTINGS].sse_heartbeat_seconds
        )
        allow_cors(request, stream)
        await stream.prepare(request)
        # ends when a ping finds the connection closed (one waiter for the stream's life:
        # cancelling a waiter on the ping task would cancel the pings)
        gone = asyncio.ensure_future(stream.wait())
        async with stream:
            # the client went away, or stopped reading (aiohttp-sse's send timeout)
            with contextlib.suppress(ConnectionResetError, TimeoutError):
                await _follow(request, stream, (woken, gone), task, last=last, user_id=user.id)
        await asyncio.gather(gone, return_exceptions=True)
    return stream


async def _follow(
    request: web.Request,
    stream: EventSourceResponse,
    waits: tuple[asyncio.Event, asyncio.Future[None]],
    task: TaskRecord | None,
    *,
    last: datetime | None,
    user_id: str,
) -> None:
    settings: EventStreamSettings = request.app[SETTINGS]
    task_id = request.match_info["task_id"]
    listener = request.app[TASK_CHANGES]
    first = True
    while True:
        if task is None:
            await stream.send(_ending(task_id), event="deleted")
            return
        updated = truncate_ms(task.request.updated_at)
        if last is None or updated > last:
            body = TaskOut.build(task, request.app[FILE_URLS]).to_json()
            await stream.send(
                jsonx.dumps(body).decode(), id=iso_ms(updated), retry=RETRY_MS if first else None
            )
            last, first = updated, False
        if task.request.status in FINISHED:
            await stream.send(_ending(task_id), event="end")
            return
        # spread: streams opened together must not all re-check in the same instant
        within = settings.sse_recheck_seconds * random.uniform(0.8, 1.2)
        woke = await _wake(*waits, within=within)
        if woke is Wake.GONE or listener.closing:
            return
        if woke is Wake.RECHECK and not await _moved(request, task_id, since=last):
            continue  # the usual re-check: one primary-key read, and nothing changed
        task = await _load(request, task_id, user_id, required=False)


class Wake(Enum):
    NOTICE = "notice"
    RECHECK = "recheck"
    GONE = "gone"


async def _wake(woken: asyncio.Event, gone: asyncio.Future[None], *, within: float) -> Wake:
    """Wait for a change notice, the client going away, or the re-check time."""
    notice = asyncio.ensure_future(woken.wait())
    try:
        await asyncio.wait((notice, gone), timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        notice.cancel()
        await asyncio.gather(notice, return_exceptions=True)
    if gone.done():
        return Wake.GONE
    if woken.is_set():
        woken.clear()  # before the read: a change committed during it wakes the stream again
        return Wake.NOTICE
    return Wake.RECHECK


async def _moved(request: web.Request, task_id: str, *, since: datetime | None) -> bool:
    """Whether the task changed (or went) since `since`, from its `updated_at` alone."""
    query = select(GenerationRequest.updated_at).where(GenerationRequest.id == task_id)
    async with request.app[TASK_CHANGES].reads, request.app[SESSIONMAKER]() as session:
        updated = await session.scalar(query)
    return updated is None or since is None or truncate_ms(updated) > since


def _ending(task_id: str) -> str:
    return jsonx.dumps({"id": task_id}).decode()


def _last_event_id(request: web.Request) -> datetime | None:
    try:
        return parse_since(request.headers.get(LAST_EVENT_ID))
    except ValidationFailed:
        reason = texts.LAST_EVENT_ID_INVALID()
        raise ValidationFailed(texts.FIELD_PROBLEM(field=LAST_EVENT_ID, reason=reason)) from None


async def _load(
    request: web.Request, task_id: str, user_id: str, *, required: bool
) -> TaskRecord | None:
    async with request.app[TASK_CHANGES].reads, request.app[SESSIONMAKER]() as session:
        try:
            return await service.get_task(session, task_id=task_id, user_id=user_id)
        except service.TaskNotFound:
            if required:
                raise
            return None
