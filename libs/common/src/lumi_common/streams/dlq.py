"""Dead-letter streams, for operators: list, show, replay (through the outbox) and purge.

A replay resets the failed job and queues it again in one transaction (`jobs.requeue`, which a
user's retry shares); the entry is removed only after that commit. Replaying an entry twice queues
the job once: the second time the job is no longer FAILED and nothing changes. When a user retries
or deletes a task, its jobs' entries are removed the same way, after the commit (`discard_jobs`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.jobs.kinds import JobKind
from lumi_common.jobs.requeue import requeue_job
from lumi_common.messages import DeadLetter, UndecodableMessage, decode
from lumi_common.streams.names import dlq_name, stream_key
from lumi_common.streams.publish import DATA_FIELD

PAGE = 500
# `discard_jobs` reads at most this many entries: a dead-letter stream is meant to be looked at
# and emptied by operators, and an entry left behind is harmless (replaying it changes nothing)
DISCARD_SCAN_LIMIT = 20 * PAGE
Outcome = Literal["requeued", "would_requeue", "not_failed", "no_job", "unreadable", "missing"]


@dataclass(frozen=True, slots=True)
class DeadLetterEntry:
    entry_id: str
    stream: str
    letter: DeadLetter | None
    raw: str

    def summary(self) -> dict[str, Any]:
        letter = self.letter
        return {
            "id": self.entry_id,
            "stream": self.stream,
            "job_id": letter.job_id if letter else None,
            "reason": letter.reason if letter else "unreadable",
            "error": letter.error if letter else self.raw[:200],
            "attempts": letter.attempts if letter else None,
            "failed_at": letter.failed_at if letter else None,
        }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    entry_id: str
    job_id: str | None
    outcome: Outcome


def _entry(stream: str, entry_id: bytes | str, fields: dict[bytes, bytes]) -> DeadLetterEntry:
    raw = fields.get(DATA_FIELD, b"").decode(errors="replace")
    try:
        message = decode(raw)
    except UndecodableMessage:
        message = None
    letter = message if isinstance(message, DeadLetter) else None
    identifier = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return DeadLetterEntry(entry_id=identifier, stream=stream, letter=letter, raw=raw)


class DeadLetters:
    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        self.redis = redis
        self.prefix = key_prefix

    def key(self, stream: str) -> str:
        return stream_key(self.prefix, dlq_name(stream))

    async def size(self, stream: str) -> int:
        return int(await self.redis.xlen(self.key(stream)))

    async def entries(self, stream: str, *, limit: int = PAGE) -> list[DeadLetterEntry]:
        entries: Any = await self.redis.xrange(self.key(stream), count=limit)
        return [_entry(stream, entry_id, fields) for entry_id, fields in entries]

    async def get(self, stream: str, entry_id: str) -> DeadLetterEntry | None:
        entries: Any = await self.redis.xrange(self.key(stream), entry_id, entry_id)
        return _entry(stream, *entries[0]) if entries else None

    async def purge(self, stream: str, entry_ids: list[str] | None = None) -> int:
        """Delete the given entries, or every entry when `entry_ids` is None."""
        if entry_ids is None:
            return int(await self.redis.delete(self.key(stream)))
        return int(await self.redis.xdel(self.key(stream), *entry_ids)) if entry_ids else 0

    async def discard_jobs(self, stream: str, job_ids: Collection[str]) -> int:
        """Delete the entries of these jobs (a user retried or deleted them); how many."""
        wanted, removed, start, scanned = set(job_ids), 0, "-", 0
        while wanted and scanned < DISCARD_SCAN_LIMIT:
            page: Any = await self.redis.xrange(self.key(stream), start, "+", count=PAGE)
            matching = [
                entry.entry_id
                for entry in (_entry(stream, entry_id, fields) for entry_id, fields in page)
                if entry.letter is not None and entry.letter.job_id in wanted
            ]
            if matching:
                removed += int(await self.redis.xdel(self.key(stream), *matching))
            if len(page) < PAGE:
                break
            scanned += len(page)
            last = page[-1][0]
            start = "(" + (last.decode() if isinstance(last, bytes) else last)
        return removed

    async def replay(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        kind: JobKind,
        entry_ids: list[str] | None,
        *,
        dry_run: bool = False,
    ) -> list[ReplayResult]:
        """Replay the given entries, or every entry of the stream when `entry_ids` is None."""
        results: list[ReplayResult] = []
        if entry_ids is None:
            entries = await self.entries(kind.stream, limit=100_000)
        else:
            entries = []
            for entry_id in entry_ids:
                entry = await self.get(kind.stream, entry_id)
                if entry is None:
                    results.append(ReplayResult(entry_id, None, "missing"))
                else:
                    entries.append(entry)
        for entry in entries:
            results.append(await self._replay_one(sessionmaker, kind, entry, dry_run))
        return results

    async def _replay_one(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        kind: JobKind,
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
                failed = job is not None and job.status.value == "FAILED"
                return ReplayResult(
                    entry.entry_id, job_id, "would_requeue" if failed else "not_failed"
                )
            requeued = await requeue_job(session, kind, job_id) is not None
        if requeued:
            await self.redis.xdel(self.key(kind.stream), entry.entry_id)
        return ReplayResult(entry.entry_id, job_id, "requeued" if requeued else "not_failed")
