"""`/slices` and `/tasks/:id/print`: the owner slices a completed model into G-code; the web
app polls `GET /slices/:id` every 5 s until COMPLETED (with `gcodeUrl`) or FAILED.

The slice job, the model's slice state and the worker's event are written in one transaction;
a finished slice it replaces is deleted with it, and its files after the commit (the file sweep
retries what fails).
"""

from __future__ import annotations

import functools

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from lumi_api import jsend, texts
from lumi_api.auth.current import require_user
from lumi_api.body import parse_body
from lumi_api.keys import FILE_URLS, OUTBOX_SIGNAL, REDIS, SESSIONMAKER, SETTINGS, STORAGE
from lumi_api.routing import add_route
from lumi_api.slices import service
from lumi_api.slices.repository import SliceRepository
from lumi_api.slices.schemas import (
    CreateSliceBody,
    PrintBody,
    PrintOut,
    SliceCreatedOut,
    SliceOut,
)
from lumi_common.db.transactions import in_transaction
from lumi_common.slice_profiles import SliceProfile
from lumi_common.states import SliceStatus
from lumi_common.storage import deletions
from lumi_common.streams.dlq import DeadLetters
from lumi_common.streams.names import SLICE_JOBS
from lumi_common.time import utcnow

log = structlog.get_logger(__name__)


def setup(app: web.Application) -> None:
    route = functools.partial(add_route, app, auth="required")
    route(
        "POST",
        "/slices",
        create_slice,
        summary="Slice a completed model into G-code (its owner; 409 while a slice runs)",
        body=CreateSliceBody,
        response=SliceCreatedOut,
        status=201,
        responses=(403, 404, 409),  # 404: the body's model
        tag="slices",
    )
    route(
        "GET",
        "/slices/{slice_id}",
        get_slice,
        summary="A slice's status, its G-code URL and what the G-code says of the print",
        response=SliceOut,
        tag="slices",
    )
    route(
        "POST",
        "/tasks/{task_id}/print",
        print_task,
        summary="Slice a task's model for printing (the web app's one-click print)",
        body=PrintBody,
        response=PrintOut,
        responses=(409,),
        tag="tasks",
    )


async def create_slice(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await parse_body(request, CreateSliceBody)
    start = functools.partial(
        service.request_slice,
        model_id=body.model_id,
        user_id=user.id,
        profile=_profile(request, body.profile),
        now=utcnow(),
    )
    created = await _started(request, await in_transaction(request.app[SESSIONMAKER], start))
    out = SliceCreatedOut(
        model_id=created.job.model_id,
        slice_task_id=created.job.id,
        slice_status=SliceStatus.PROCESSING,
        message=texts.SLICE_STARTED.render(),
    )
    return jsend.success(out.to_json(), status=201)


async def print_task(request: web.Request) -> web.Response:
    user = await require_user(request)
    # the web app sends `{}`; no body at all is as good
    body = await parse_body(request, PrintBody) if request.body_exists else PrintBody()
    start = functools.partial(
        service.print_task,
        task_id=request.match_info["task_id"],  # a ULID: the route guard checked it
        user_id=user.id,
        profile=_profile(request, body.profile),
        now=utcnow(),
    )
    created = await _started(request, await in_transaction(request.app[SESSIONMAKER], start))
    return jsend.success(
        PrintOut(slice_task_id=created.job.id, message=texts.SLICE_STARTED.render()).to_json()
    )


async def get_slice(request: web.Request) -> web.Response:
    user = await require_user(request)
    async with request.app[SESSIONMAKER]() as session:
        job = await SliceRepository(session).get(request.match_info["slice_id"])
    # another user's slice is as unknown as a missing one (the ids are not guessable)
    if job is None or job.user_id != user.id:
        raise service.SliceNotFound()
    return jsend.success(SliceOut.build(job, request.app[FILE_URLS]).to_json())


def _profile(request: web.Request, asked: SliceProfile | None) -> SliceProfile:
    return asked or request.app[SETTINGS].slice_profile


async def _started(request: web.Request, created: service.NewSlice) -> service.NewSlice:
    """After the commit: the relay wakes, the replaced slice's files and dead letter go."""
    request.app[OUTBOX_SIGNAL].wake()
    structlog.contextvars.bind_contextvars(
        slice_id=created.job.id, model_id=created.job.model_id, trace_id=created.trace_id
    )
    if created.replaced:
        await deletions.delete_now(request.app[STORAGE], created.replaced_folders)
    if created.replaced_failed:
        await _discard_dead_letters(request, created.replaced_failed)
    log.info("slice.requested", profile=created.job.profile, replaced=len(created.replaced))
    return created


async def _discard_dead_letters(request: web.Request, job_ids: list[str]) -> None:
    """A dead letter left by a Redis outage is harmless: replaying it finds no job."""
    letters = DeadLetters(request.app[REDIS], key_prefix=request.app[SETTINGS].redis_key_prefix)
    try:
        await letters.discard_jobs(SLICE_JOBS, job_ids)
    except (RedisError, OSError) as exc:
        log.warning("slice.dead_letters.kept", error=repr(exc))
