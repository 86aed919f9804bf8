"""Dead-letter streams, for operators: list, show, replay (through the outbox) and purge.

A replay resets the failed job and queues it again in one transaction; the entry is removed only
after that commit. Replaying an entry twice queues the job once: the second time the job is no
longer FAILED and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.jobs.kinds import JobKind
from lumi_common.messages import DeadLetter, UndecodableMessage, decode
from lumi_common.outbox.writer import add_event
from lumi_common.streams.names import dlq_name, stream_key
from lumi_common.streams.publish import DATA_FIELD

PAGE = 500
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
            requeued = await _requeue(session, kind, job_id)
        if requeued:
            await self.redis.xdel(self.key(kind.stream), entry.entry_id)
        return ReplayResult(entry.entry_id, job_id, "requeued" if requeued else "not_failed")


async def _requeue(session: AsyncSession, kind: JobKind, job_id: str) -> bool:
    job = await kind.lifecycle.requeue_failed(session, job_id)
    if job is None:
        return False
    await kind.on_requeued(session, job)
    message = await kind.message_for(session, job, attempt=1)
    add_event(session, stream=kind.stream, key=job_id, message=message)
    return True
