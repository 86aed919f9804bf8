"""`/tasks`: create (idempotently), list, read, poll with `?since=`, choose the image, cancel,
retry, delete."""

from __future__ import annotations

import functools
import re
from datetime import datetime

import structlog
from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from lumi_api import jsend, texts
from lumi_api.auth.current import require_user
from lumi_api.auth.service import CurrentUser
from lumi_api.body import parse_body, parse_query
from lumi_api.gallery.cache import gallery_cache
from lumi_api.keys import FILE_URLS, OUTBOX_SIGNAL, PROMPTS, REDIS, SESSIONMAKER, SETTINGS, STORAGE
from lumi_api.routing import add_route
from lumi_api.schemas import MessageOut
from lumi_api.tasks import control, idempotency, service
from lumi_api.tasks.idempotency import Idempotency
from lumi_api.tasks.quotas import QUOTAS, Quotas
from lumi_api.tasks.repository import JobIds
from lumi_api.tasks.schemas import (
    CreateTaskBody,
    RetryBody,
    SelectImageBody,
    SelectionOut,
    SinceQuery,
    TaskListOut,
    TaskListQuery,
    TaskOut,
)
from lumi_api.tasks.writer import TASK_WRITER, task_writer_ctx
from lumi_api.webhooks.service import acceptable_url
from lumi_common.db.transactions import in_transaction
from lumi_common.errors import ValidationFailed
from lumi_common.storage import deletions
from lumi_common.streams.dlq import DeadLetters
from lumi_common.time import parse_iso, seconds, truncate_ms, utcnow

NO_CACHE = {"Cache-Control": "no-cache, must-revalidate"}
# a `+01:00` offset sent unencoded in a query string arrives as ` 01:00`
_SPACED_OFFSET = re.compile(r"(T[\d:.]+) (\d{2}(:?\d{2})?)$")
TASK = "/tasks/{task_id}"

log = structlog.get_logger(__name__)


# what cancelling, retrying and deleting a task change: built once (with their statements)
JOB_KINDS = web.AppKey("job_kinds", control.JobKinds)


def setup(app: web.Application) -> None:
    app[JOB_KINDS] = control.JobKinds.with_lease(seconds(app[SETTINGS].job_lease_seconds))
    app.cleanup_ctx.append(task_writer_ctx)  # after the database's: drained before it closes
    app[QUOTAS] = Quotas(app[SETTINGS], prefix=app[SETTINGS].redis_key_prefix)
    route = functools.partial(add_route, app, auth="required", tag="tasks")

    route(
        "POST",
        "/tasks",
        create_task,
        summary="Create a task from a prompt (send Idempotency-Key to make retries safe)",
        body=CreateTaskBody,
        response=TaskOut,
        status=201,
        responses=(409,),
    )
    route(
        "GET",
        "/tasks",
        list_tasks,
        summary="The caller's tasks, newest first",
        query=TaskListQuery,
        response=TaskListOut,
    )
    route("GET", TASK, get_task, summary="A task with its images and model", response=TaskOut)
    route(
        "GET",
        TASK + "/status",
        get_task_status,
        summary="Poll a task: 304 while unchanged since `since`",
        query=SinceQuery,
        response=TaskOut,
        responses=(304,),
    )
    route(
        "PATCH",
        TASK,
        select_image,
        summary="Choose the image the model is made from",
        body=SelectImageBody,
        response=SelectionOut,
        responses=(409,),
    )
    route(
        "POST",
        TASK + "/cancel",
        cancel_task,
        summary="Cancel an unfinished task",
        response=TaskOut,
        responses=(409,),
    )
    route(
        "POST",
        TASK + "/retry",
        retry_task,
        summary="Queue the failed images or the failed model again",
        body=RetryBody,
        response=TaskOut,
        responses=(409,),
    )
    route(
        "DELETE",
        TASK,
        delete_task,
        summary="Delete a task, its images and its model, with their files",
        response=MessageOut,
    )


async def create_task(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await parse_body(request, CreateTaskBody)
    key = idempotency.from_request(request, body)
    callback_url = None
    if body.callback_url is not None:
        allow_private = request.app[SETTINGS].webhook_allow_private
        callback_url = acceptable_url(
            body.callback_url, allow_private=allow_private, field="callbackUrl"
        )
    if key is not None and (replayed := await _replay(request, user, key)) is not None:
        return replayed
    # the quota before the prompt provider, which may cost money too
    quotas = request.app[QUOTAS]
    async with quotas.creating(request.app[SESSIONMAKER], request.app[REDIS], user, now=utcnow()):
        # before the transaction: a slow prompt provider must not hold a connection
        variants = await request.app[PROMPTS].variants(body.prompt, service.IMAGE_COUNT)
        task, rows = service.new_task(
            owner=user,
            prompt=body.prompt,
            variants=variants,
            now=utcnow(),
            idempotency=key,
            callback_url=callback_url,
        )
        try:
            await request.app[TASK_WRITER].write(rows)
        except IntegrityError:
            # a concurrent request with the same key committed first: answer with its task
            if key is None or (replayed := await _replay(request, user, key)) is None:
                raise
            return replayed
    # on the request's access line (one line per creation, not two)
    structlog.contextvars.bind_contextvars(task_id=task.id, trace_id=task.trace_id)
    return jsend.success(TaskOut.created(task).to_json(), status=201)


async def _replay(request: web.Request, user: CurrentUser, key: Idempotency) -> web.Response | None:
    """The task this key created, answered as its creation was (201), marked as a replay."""
    async with request.app[SESSIONMAKER]() as session:
        task = await service.created_with(session, user_id=user.id, idempotency=key)
    if task is None:
        return None
    log.info("task.create_replayed", task_id=task.request.id)
    body = TaskOut.build(task, request.app[FILE_URLS]).to_json()
    return jsend.success(body, status=201, headers={idempotency.REPLAYED_HEADER: "true"})


async def list_tasks(request: web.Request) -> web.Response:
    user = await require_user(request)
    limit, offset = parse_query(request, TaskListQuery).window()
    async with request.app[SESSIONMAKER]() as session:
        page = await service.list_tasks(session, user_id=user.id, limit=limit, offset=offset)
    return jsend.success(TaskListOut.build(page, request.app[FILE_URLS]).to_json())


async def get_task(request: web.Request) -> web.Response:
    user = await require_user(request)
    task_id = _task_id(request)
    async with request.app[SESSIONMAKER]() as session:
        task = await service.get_task(session, task_id=task_id, user_id=user.id)
    return jsend.success(TaskOut.build(task, request.app[FILE_URLS]).to_json())


async def get_task_status(request: web.Request) -> web.Response:
    """304 with no body while nothing changed since `since`; the full task otherwise."""
    user = await require_user(request)
    since = parse_since(parse_query(request, SinceQuery).since)
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


async def cancel_task(request: web.Request) -> web.Response:
    user = await require_user(request)
    cancel = functools.partial(
        control.cancel_task, task_id=_task_id(request), user_id=user.id, kinds=_kinds(request)
    )
    task = await in_transaction(request.app[SESSIONMAKER], cancel)
    log.info("task.cancelled", task_id=task.request.id)
    return jsend.success(TaskOut.build(task, request.app[FILE_URLS]).to_json())


async def retry_task(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await parse_body(request, RetryBody)
    retry = functools.partial(
        control.retry_task,
        task_id=_task_id(request),
        user_id=user.id,
        what=body.type,
        kinds=_kinds(request),
    )
    retried = await in_transaction(request.app[SESSIONMAKER], retry)
    request.app[OUTBOX_SIGNAL].wake()
    await _discard_dead_letters(request, retried.jobs)
    log.info("task.retried", task_id=retried.task.request.id, what=body.type)
    return jsend.success(TaskOut.build(retried.task, request.app[FILE_URLS]).to_json())


async def delete_task(request: web.Request) -> web.Response:
    user = await require_user(request)
    task_id = _task_id(request)
    delete = functools.partial(
        control.delete_task, task_id=task_id, user_id=user.id, kinds=_kinds(request), now=utcnow()
    )
    deleted = await in_transaction(request.app[SESSIONMAKER], delete)
    if deleted.gallery_changed:  # or its cached pages would list it, with dead URLs
        await gallery_cache(request.app).bump()
    # after the commit, best effort: what fails here is retried by the file sweep or harmless
    await deletions.delete_now(request.app[STORAGE], deleted.prefixes)
    await _discard_dead_letters(request, deleted.failed_jobs)
    log.info("task.deleted", task_id=task_id)
    return jsend.success(MessageOut(message=texts.TASK_DELETED.render()).to_json())


async def _discard_dead_letters(request: web.Request, jobs: JobIds) -> None:
    """Requeued or deleted jobs must not also wait in a dead-letter stream. An entry left by a
    Redis outage is harmless: replaying it finds the job not FAILED and changes nothing."""
    settings = request.app[SETTINGS]
    letters = DeadLetters(request.app[REDIS], key_prefix=settings.redis_key_prefix)
    kinds = _kinds(request)
    for stream, ids in ((kinds.image.stream, jobs.image), (kinds.model.stream, jobs.model)):
        if not ids:
            continue
        try:
            await letters.discard_jobs(stream, ids)
        except (RedisError, OSError) as exc:
            log.warning("task.dead_letters.kept", stream=stream, error=repr(exc))


def _kinds(request: web.Request) -> control.JobKinds:
    return request.app[JOB_KINDS]


def _task_id(request: web.Request) -> str:
    """A ULID: the route guard answered 404 for anything else."""
    return request.match_info["task_id"]


def parse_since(value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        return truncate_ms(parse_iso(_SPACED_OFFSET.sub(r"\1+\2", value.strip())))
    except ValueError:
        reason = texts.SINCE_INVALID
        raise ValidationFailed(texts.FIELD_PROBLEM(field="since", reason=reason())) from None
