"""`/tasks`: create a task, read it, poll it with `?since=`, choose its image."""

from __future__ import annotations

import functools
import re
from datetime import datetime

import structlog
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from lumi_api import jsend
from lumi_api.auth.current import require_user
from lumi_api.body import parse_body
from lumi_api.keys import FILE_URLS, OUTBOX_SIGNAL, PROMPTS, SESSIONMAKER
from lumi_api.routing import add_route
from lumi_api.tasks import service
from lumi_api.tasks.schemas import CreateTaskBody, SelectImageBody, SelectionOut, TaskOut
from lumi_common.db.transactions import in_transaction
from lumi_common.errors import ValidationFailed
from lumi_common.ids import looks_like_id
from lumi_common.time import parse_iso, truncate_ms, utcnow

NO_CACHE = {"Cache-Control": "no-cache, must-revalidate"}
# a `+01:00` offset sent unencoded in a query string arrives as ` 01:00`
_SPACED_OFFSET = re.compile(r"(T[\d:.]+) (\d{2}(:?\d{2})?)$")

log = structlog.get_logger(__name__)


def setup(app: web.Application) -> None:
    add_route(app, "POST", "/tasks", create_task)
    add_route(app, "GET", "/tasks/{task_id}", get_task)
    add_route(app, "GET", "/tasks/{task_id}/status", get_task_status)
    add_route(app, "PATCH", "/tasks/{task_id}", select_image)


async def create_task(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await parse_body(request, CreateTaskBody)
    # before the transaction: a slow prompt provider must not hold a connection
    variants = await request.app[PROMPTS].variants(body.prompt, service.IMAGE_COUNT)
    async with request.app[SESSIONMAKER].begin() as session:
        task = await service.create_task(
            session, owner=user, prompt=body.prompt, variants=variants, now=utcnow()
        )
    request.app[OUTBOX_SIGNAL].wake()
    log.info("task.created", task_id=task.request.id, trace_id=task.request.trace_id)
    return jsend.success(TaskOut.build(task, request.app[FILE_URLS]).to_json(), status=201)


async def get_task(request: web.Request) -> web.Response:
    user = await require_user(request)
    task_id = _task_id(request)
    async with request.app[SESSIONMAKER]() as session:
        task = await service.get_task(session, task_id=task_id, user_id=user.id)
    return jsend.success(TaskOut.build(task, request.app[FILE_URLS]).to_json())


async def get_task_status(request: web.Request) -> web.Response:
    """304 with no body while nothing changed since `since`; the full task otherwise."""
    user = await require_user(request)
    since = parse_since(request.query.get("since"))
    task_id = _task_id(request)
    async with request.app[SESSIONMAKER]() as session:
        task = await service.get_task(session, task_id=task_id, user_id=user.id)
    if since is not None and truncate_ms(task.request.updated_at) <= since:
        # returned, not raised, so the outer middleware still adds the CORS headers
        return web.Response(status=304)
    body = TaskOut.build(task, request.app[FILE_URLS]).to_json()
    return jsend.success(body, headers=NO_CACHE)


async def select_image(request: web.Request) -> web.Response:
    user = await require_user(request)
    task_id = _task_id(request)
    body = await parse_body(request, SelectImageBody)
    choose = functools.partial(
        service.select_image,
        task_id=task_id,
        user_id=user.id,
        image_index=body.selected_image_index,
        now=utcnow(),
    )
    try:
        task = await in_transaction(request.app[SESSIONMAKER], choose)
    except IntegrityError:
        # a concurrent choice for the same task committed first (one model per request)
        raise service.ModelAlreadyRequested() from None
    request.app[OUTBOX_SIGNAL].wake()
    out = SelectionOut.build(task, request.app[FILE_URLS])
    log.info("task.image_selected", task_id=task_id, model_id=out.model.id)
    return jsend.success(out.to_json())


def _task_id(request: web.Request) -> str:
    task_id = request.match_info["task_id"]
    if not looks_like_id(task_id):
        raise service.TaskNotFound()
    return task_id


def parse_since(value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        return truncate_ms(parse_iso(_SPACED_OFFSET.sub(r"\1+\2", value.strip())))
    except ValueError:
        raise ValidationFailed(
            "since: must be an ISO-8601 date-time such as 2026-02-04T12:00:00.000Z"
        ) from None
