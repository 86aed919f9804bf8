"""Replaying dead letters (through the outbox), for `lumi dlq replay` and the admin API.

Each letter is its own unit: the failed job is reset and queued again in one transaction
(`jobs.requeue`, which a user's retry shares), and the entry is removed only after that commit.
`stop()` is asked before each letter, never in the middle of one, so an interrupted replay
leaves every letter either replayed and removed, or untouched; running it again carries on.
Replaying an entry twice queues the job once: the second time the job is no longer FAILED and
nothing changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.jobs.kinds import JobKind
from lumi_common.jobs.requeue import requeue_job
from lumi_common.states import JobStatus
from lumi_common.streams.dlq import DeadLetterEntry, DeadLetters, check_entry_id, never

Outcome = Literal["requeued", "would_requeue", "not_failed", "no_job", "unreadable", "missing"]
DONE: frozenset[Outcome] = frozenset({"requeued", "would_requeue"})


@dataclass(frozen=True, slots=True)
class ReplayResult:
    entry_id: str
    job_id: str | None
    outcome: Outcome


@dataclass(slots=True)
class ReplayReport:
    total: int
    results: list[ReplayResult] = field(default_factory=list)
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        """Every letter asked for was replayed (or would be, in a dry run)."""
        return not self.interrupted and all(r.outcome in DONE for r in self.results)

    def counts(self) -> Counter[Outcome]:
        return Counter(result.outcome for result in self.results)


async def replay(
    letters: DeadLetters,
    sessionmaker: async_sessionmaker[AsyncSession],
    kind: JobKind[Any, Any],
    entry_ids: list[str] | None,
    *,
    dry_run: bool = False,
    stop: Callable[[], bool] = never,
    on_result: Callable[[ReplayResult], None] | None = None,
) -> ReplayReport:
    """Replay the given entries, or, with `entry_ids` None, those present in the stream now."""
    stream = kind.stream

    def record(report: ReplayReport, result: ReplayResult) -> None:
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    if entry_ids is not None:
        for entry_id in entry_ids:  # all of them before any is replayed
            check_entry_id(entry_id)
        report = ReplayReport(total=len(entry_ids))
        for entry_id in entry_ids:
            if stop():
                report.interrupted = True
                break
            entry = await letters.get(stream, entry_id)
            result = (
                ReplayResult(entry_id, None, "missing")
                if entry is None
                else await _replay_one(letters, sessionmaker, kind, entry, dry_run)
            )
            record(report, result)
        return report
    snapshot = await letters.snapshot(stream)
    report = ReplayReport(total=snapshot.count)
    if snapshot.last_id is None:
        return report
    async for page in letters.pages(stream, end=snapshot.last_id):
        for entry in page:
            if stop():
                report.interrupted = True
                return report
            record(report, await _replay_one(letters, sessionmaker, kind, entry, dry_run))
    return report


async def _replay_one(
    letters: DeadLetters,
    sessionmaker: async_sessionmaker[AsyncSession],
    kind: JobKind[Any, Any],
    entry: DeadLetterEntry,
    dry_run: bool,
) -> ReplayResult:
    if entry.letter is None:
        return ReplayResult(entry.entry_id, None, "unreadable")
    job_id = entry.letter.job_id
    if job_id is None:
        return ReplayResult(entry.entry_id, None, "no_job")
    async with sessionmaker.begin() as session:
        if dry_run:
            job = await kind.lifecycle.get(session, job_id)
            failed = job is not None and job.status is JobStatus.FAILED
            return ReplayResult(entry.entry_id, job_id, "would_requeue" if failed else "not_failed")
        requeued = await requeue_job(session, kind, job_id) is not None
    if requeued:
        await letters.redis.xdel(letters.key(kind.stream), entry.entry_id)
    return ReplayResult(entry.entry_id, job_id, "requeued" if requeued else "not_failed")
