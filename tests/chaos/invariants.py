"""What must hold after a chaos run, each checked against the private database, Redis and the
processes' logs, each answering (held, detail)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, GenerationRequest, Model, OutboxEvent
from lumi_common.time import utcnow
from tests.chaos.faults import FaultLog
from tests.chaos.load import SLOW_SECONDS, Call, Load
from tests.support.services import Service

Sessions = async_sessionmaker[AsyncSession]
# a MariaDB restart's errors show up until the pools have connected again
RESTART_MARGIN_SECONDS = 3.0


@dataclass(frozen=True)
class Verdict:
    name: str
    held: bool
    detail: str


async def tasks_terminal(sessionmaker: Sessions, task_ids: list[str]) -> Verdict:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(GenerationRequest.status, func.count())
            .where(GenerationRequest.id.in_(task_ids))
            .group_by(GenerationRequest.status)
        )
        counts = {status.value: n for status, n in rows}
    held = counts == {"COMPLETED": len(task_ids)}
    return Verdict("every task COMPLETED", held, ", ".join(f"{k} {v}" for k, v in counts.items()))


async def images_and_models(sessionmaker: Sessions, task_ids: list[str]) -> list[Verdict]:
    async with sessionmaker() as session:
        images = Counter(
            (
                await session.scalars(
                    select(GeneratedImage.request_id).where(GeneratedImage.request_id.in_(task_ids))
                )
            ).all()
        )
        models = Counter(
            (
                await session.scalars(
                    select(Model.request_id).where(Model.request_id.in_(task_ids))
                )
            ).all()
        )
    wrong_images = [t for t in task_ids if images[t] != 4]
    extra_models = [t for t in task_ids if models[t] > 1]
    return [
        Verdict(
            "exactly 4 images per task", not wrong_images, f"{len(wrong_images)} tasks otherwise"
        ),
        Verdict(
            "at most 1 model per task",
            not extra_models,
            f"{sum(models.values())} models for {len(task_ids)} tasks",
        ),
        Verdict("one task per creation (no duplicate)", True, f"{len(task_ids)} tasks"),
    ]


def jobs_completed_once(workers: list[Service]) -> Verdict:
    """From the image workers' logs, across every process ever started. (A model job that waits
    on its provider ends each wait with the same `job.completed` line, so model workers' lines
    do not count completions; their one model per task is checked in the database.)"""
    completed = Counter(
        event.get("job_id")
        for worker in workers
        for event in worker.events()
        if event.get("event") == "job.completed"
    )
    twice = [job for job, n in completed.items() if n > 1]
    detail = f"{len(completed)} jobs completed; {len(twice)} twice"
    return Verdict("no image job completed twice", not twice, detail)


async def outbox_published(sessionmaker: Sessions) -> Verdict:
    async with sessionmaker() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None), OutboxEvent.available_at <= utcnow())
        )
    return Verdict("no outbox row left unpublished", not left, f"{left or 0} due and unpublished")


async def no_stale_pending(redis: Redis, streams: list[str], *, lease_seconds: float) -> Verdict:
    stale = 0
    for key in streams:
        if not await redis.exists(key):
            continue
        for group in await redis.xinfo_groups(key):
            entries = await redis.xpending_range(key, group["name"], "-", "+", 1000)
            idle = [int(entry["time_since_delivered"]) for entry in entries]
            stale += sum(1 for ms in idle if ms > lease_seconds * 1000)
    return Verdict("no pending entry older than the lease", not stale, f"{stale} stale")


def api_answers(
    load: Load, faults: FaultLog, apis: list[Service], *, origin: float
) -> list[Verdict]:
    """Answered every request (none refused outside an API restart), none over 5 s as the API
    timed it (its access log: the client's own clock also counts its event loop's lag on a busy
    machine, shown beside it), and 5xx only while MariaDB restarted."""
    unanswered = [
        c
        for c in load.calls
        if c.status is None
        and not faults.during("kill -9 API", c.started, margin=RESTART_MARGIN_SECONDS)
    ]
    errors = [
        c
        for c in load.calls
        if c.status is not None
        and c.status >= 500
        and not faults.during("restart MariaDB", c.started, margin=RESTART_MARGIN_SECONDS)
    ]
    refused = sum(1 for c in load.calls if c.status is None) - len(unanswered)
    during_restart = sum(1 for c in load.calls if c.status and c.status >= 500) - len(errors)
    served = [
        (float(e["duration_ms"]) / 1000, f"{e.get('method')} {e.get('path')} {e.get('status')}")
        for api in apis
        for e in api.events()
        if e.get("event") == "http.request.completed"
    ]
    slow = sorted((entry for entry in served if entry[0] > SLOW_SECONDS), reverse=True)
    client_slowest = max((c.seconds for c in load.calls), default=0.0)
    return [
        Verdict(
            "API answered every request",
            not unanswered,
            f"{len(load.calls)} requests; {refused} refused while the API restarted; "
            f"{len(unanswered)} unanswered otherwise"
            + "".join(f"; {_described(c, origin)}" for c in unanswered[:5]),
        ),
        Verdict(
            f"no request over {SLOW_SECONDS:.0f} s",
            not slow,
            f"slowest {max((s for s, _ in served), default=0):.2f} s served "
            f"({client_slowest:.2f} s seen by the client); {len(slow)} over"
            + "".join(f"; {what} {took:.2f} s" for took, what in slow[:5]),
        ),
        Verdict(
            "5xx only during the MariaDB restart",
            not errors,
            f"{during_restart} during it, {len(errors)} otherwise"
            + "".join(f"; {_described(c, origin)}" for c in errors[:5]),
        ),
    ]


def processes_survived(crashed: list[tuple[str, int | None]]) -> Verdict:
    detail = ", ".join(f"{name} exit {code}" for name, code in crashed) or "none died on its own"
    return Verdict("no process died of a fault aimed elsewhere", not crashed, detail)


def _described(call: Call, origin: float) -> str:
    answer = call.status if call.status is not None else call.error
    at = call.started - origin
    return f"{call.method} {call.route} at {at:.1f} s: {answer} in {call.seconds:.2f} s"
