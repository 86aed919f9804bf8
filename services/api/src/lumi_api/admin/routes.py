"""`/admin/…`: stream health, dead letters (list, replay, purge — each action audited), a task's
jobs, and the audit trail. Administrators only (`auth="admin"`: 401, then 403)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from aiohttp import web
from redis.exceptions import RedisError

from lumi_api import jsend, texts
from lumi_api.admin import audit, queues
from lumi_api.admin.repository import AdminRepository
from lumi_api.admin.schemas import (
    MAX_SELECTION,
    ActionOut,
    ActionsOut,
    ActionsQuery,
    DeadLettersOut,
    DeadLettersQuery,
    JobOut,
    PurgeOut,
    ReplayedOut,
    ReplayOut,
    SelectionBody,
    StreamsOut,
    TaskJobsOut,
)
from lumi_api.auth.current import require_admin
from lumi_api.auth.service import CurrentUser
from lumi_api.body import parse_body, parse_query
from lumi_api.keys import REDIS, SESSIONMAKER, SETTINGS
from lumi_api.routing import add_route
from lumi_common import jsonx
from lumi_common.errors import Conflict, NotFound, ServiceUnavailable
from lumi_common.i18n import shown
from lumi_common.pipeline.kinds import replayable_kind
from lumi_common.streams.dlq import DeadLetters
from lumi_common.streams.dlq_replay import DONE, replay
from lumi_common.streams.names import JOB_STREAMS
from lumi_common.time import seconds, utcnow

LETTERS = "/admin/dead-letters/{stream}"
# a task's dead letters are looked for among this many entries per stream (newest are kept by
# operators; a stream longer than this is itself the problem the console shows)
JOB_LETTER_SCAN = 5_000


class UnknownStream(NotFound):
    code, default_message = "UNKNOWN_STREAM", texts.UNKNOWN_STREAM


class NotReplayable(Conflict):
    code, default_message = "NOT_REPLAYABLE", texts.NOT_REPLAYABLE


class RedisUnavailable(ServiceUnavailable):
    default_message = texts.REDIS_UNAVAILABLE


def setup(app: web.Application) -> None:
    route = functools.partial(add_route, app, auth="admin", tag="admin")
    route(
        "GET",
        "/admin/streams",
        list_streams,
        summary="Job streams: length, pending, lag, consumers and their idle time; outbox backlog",
        response=StreamsOut,
        responses=(503,),
    )
    route(
        "GET",
        LETTERS,
        list_letters,
        summary="A stream's dead letters, oldest first, with error, attempts and payload",
        query=DeadLettersQuery,
        response=DeadLettersOut,
        responses=(404, 503),
    )
    route(
        "POST",
        LETTERS + "/replay",
        replay_letters,
        summary="Reset the letters' jobs and queue them again (some by id, or all); audited",
        body=SelectionBody,
        response=ReplayOut,
        responses=(404, 409, 503),
    )
    route(
        "POST",
        LETTERS + "/purge",
        purge_letters,
        summary="Delete letters without replaying them (some by id, or all); audited",
        body=SelectionBody,
        response=PurgeOut,
        responses=(404, 503),
    )
    route(
        "GET",
        "/admin/tasks/{task_id}",
        task_jobs,
        summary="A task's jobs (image, model, slice) with their state and dead letters",
        response=TaskJobsOut,
    )
    route(
        "GET",
        "/admin/actions",
        list_actions,
        summary="What administrators did, newest first",
        query=ActionsQuery,
        response=ActionsOut,
    )


async def list_streams(request: web.Request) -> web.Response:
    now = utcnow()
    async with request.app[SESSIONMAKER]() as session:
        backlog = await AdminRepository(session).outbox_backlog(now=now)
    redis, prefix = request.app[REDIS], request.app[SETTINGS].redis_key_prefix
    async with _redis():
        streams = [await queues.stream_view(redis, prefix, s, backlog) for s in JOB_STREAMS]
    out = StreamsOut(streams=streams, outbox=queues.outbox_view(backlog, now=now), checked_at=now)
    return jsend.success(out.to_json())


async def list_letters(request: web.Request) -> web.Response:
    stream = _stream(request)
    query = parse_query(request, DeadLettersQuery)
    letters = _letters(request)
    async with _redis():
        total = await letters.size(stream)
        entries = await letters.entries(stream, limit=query.limit)
    items = [queues.letter_view(entry) for entry in entries]
    return jsend.success(DeadLettersOut(stream=stream, total=total, items=items).to_json())


async def replay_letters(request: web.Request) -> web.Response:
    user = await require_admin(request)
    stream = _stream(request)
    body = await parse_body(request, SelectionBody)
    lease = seconds(request.app[SETTINGS].job_lease_seconds)
    kind = replayable_kind(stream, lease=lease)
    if kind is None:
        raise NotReplayable()
    done: list[str] = []
    async with _redis():
        report = await replay(
            _letters(request),
            request.app[SESSIONMAKER],
            kind,
            body.ids,
            stop=lambda: len(done) >= MAX_SELECTION,
            on_result=lambda result: done.append(result.entry_id),
        )
    results = [
        ReplayedOut(id=r.entry_id, job_id=r.job_id, outcome=r.outcome) for r in report.results
    ]
    replayed = sum(1 for r in report.results if r.outcome in DONE)
    out = ReplayOut(
        stream=stream,
        total=report.total,
        replayed=replayed,
        results=results,
        interrupted=report.interrupted,
    )
    outcome = {
        "replayed": replayed,
        "counts": dict(report.counts()),
        "interrupted": out.interrupted,
    }
    await _audit(request, user, "replay", stream, body, outcome)
    return jsend.success(out.to_json())


async def purge_letters(request: web.Request) -> web.Response:
    user = await require_admin(request)
    stream = _stream(request)
    body = await parse_body(request, SelectionBody)
    async with _redis():
        out = await _purge(_letters(request), stream, body.ids)
    outcome = {"removed": out.removed, "total": out.total, "interrupted": out.interrupted}
    await _audit(request, user, "purge", stream, body, outcome)
    return jsend.success(out.to_json())


async def _purge(letters: DeadLetters, stream: str, ids: list[str] | None) -> PurgeOut:
    if ids is not None:
        removed = await letters.purge(stream, ids)
        return PurgeOut(stream=stream, total=len(ids), removed=removed, interrupted=False)
    removed_so_far = [0]

    def count(n: int) -> None:
        removed_so_far[0] += n

    report = await letters.purge_all(
        stream, stop=lambda: removed_so_far[0] >= MAX_SELECTION, on_removed=count
    )
    return PurgeOut(
        stream=stream, total=report.total, removed=report.removed, interrupted=report.interrupted
    )


async def task_jobs(request: web.Request) -> web.Response:
    task_id = request.match_info["task_id"]
    async with request.app[SESSIONMAKER]() as session:
        repo = AdminRepository(session)
        task = await repo.task(task_id)
        if task is None:
            raise NotFound(texts.TASK_NOT_FOUND)
        jobs = await repo.jobs_of(task_id)
    found = await _job_letters(request, {job.id for _, job in jobs})
    out = TaskJobsOut(
        id=task.id,
        user_id=task.user_id,
        prompt=task.original_prompt,
        status=task.status.value,
        phase=task.phase.value,
        error_message=shown(task.error_message),
        trace_id=task.trace_id,
        created_at=task.created_at,
        updated_at=task.updated_at,
        jobs=[
            JobOut(
                kind=kind,
                id=job.id,
                status=job.status.value,
                attempt=job.attempt,
                error_code=job.error_code,
                # raw for image and model jobs; a failed slice's is its client's sentence
                error_message=shown(job.error_message),
                next_attempt_at=job.next_attempt_at,
                lease_owner=job.lease_owner,
                created_at=job.created_at,
                updated_at=job.updated_at,
                completed_at=job.completed_at,
                failed_at=job.failed_at,
                dead_letters=found.get(job.id, []),
            )
            for kind, job in jobs
        ],
    )
    return jsend.success(out.to_json())


async def list_actions(request: web.Request) -> web.Response:
    query = parse_query(request, ActionsQuery)
    async with request.app[SESSIONMAKER]() as session:
        rows = await AdminRepository(session).recent_actions(limit=query.limit)
    items = [
        ActionOut(
            id=row.id,
            user_id=row.user_id,
            user_email=row.user_email,
            action=row.action,
            stream=row.stream,
            target=jsonx.loads(row.target),
            outcome=jsonx.loads(row.outcome),
            created_at=row.created_at,
        )
        for row in rows
    ]
    return jsend.success(ActionsOut(items=items).to_json())


def _stream(request: web.Request) -> str:
    stream = queues.resolve_stream(request.match_info["stream"])
    if stream is None:
        raise UnknownStream(texts.UNKNOWN_STREAM(streams=", ".join(JOB_STREAMS)))
    return stream


def _letters(request: web.Request) -> DeadLetters:
    return DeadLetters(request.app[REDIS], key_prefix=request.app[SETTINGS].redis_key_prefix)


@asynccontextmanager
async def _redis() -> AsyncIterator[None]:
    try:
        yield
    except (RedisError, OSError) as error:
        raise RedisUnavailable() from error


async def _job_letters(request: web.Request, job_ids: set[str]) -> dict[str, list[str]]:
    """The dead-letter entry ids of these jobs, in every stream (a bounded scan)."""
    found: dict[str, list[str]] = {}
    if not job_ids:
        return found
    letters = _letters(request)
    async with _redis():
        for stream in JOB_STREAMS:
            scanned = 0
            async for page in letters.pages(stream):
                for entry in page:
                    if entry.letter is not None and entry.letter.job_id in job_ids:
                        found.setdefault(entry.letter.job_id, []).append(entry.entry_id)
                scanned += len(page)
                if scanned >= JOB_LETTER_SCAN:
                    break
    return found


async def _audit(
    request: web.Request,
    user: CurrentUser,
    action: str,
    stream: str,
    body: SelectionBody,
    outcome: Mapping[str, object],
) -> None:
    target: object = "all" if body.all else {"ids": body.ids}
    await audit.record(
        request.app[SESSIONMAKER],
        user,
        action=action,
        stream=stream,
        target=target,
        outcome=outcome,
    )
