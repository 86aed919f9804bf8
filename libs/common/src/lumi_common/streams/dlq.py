"""Dead-letter streams, for operators (the `lumi dlq` commands and the admin API): list, show,
purge; replaying needs the database and lives in `lumi_common.streams.dlq_replay`.

Operations on a whole stream (`purge_all`, replaying all) work on the entries present when they
start (up to the last entry id of that moment), page by page, and between two entries ask
`stop()`: an interrupted run leaves every entry either done or untouched, and running it again
carries on with what is left. Letters that arrive meanwhile are left for the next look.
When a user retries or deletes a task, its jobs' entries are removed after the commit
(`discard_jobs`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from lumi_common.messages import DeadLetter, UndecodableMessage, decode
from lumi_common.redis_client import RedisClient
from lumi_common.streams.names import dlq_name, stream_key
from lumi_common.streams.publish import DATA_FIELD

PAGE = 500
# `discard_jobs` reads at most this many entries: a dead-letter stream is meant to be looked at
# and emptied by operators, and an entry left behind is harmless (replaying it changes nothing)
DISCARD_SCAN_LIMIT = 20 * PAGE
# a stream entry id: milliseconds, optionally `-sequence`
_ENTRY_ID = re.compile(r"^\d{1,20}(?:-\d{1,20})?$")


class InvalidEntryId(ValueError):
    """Not a stream entry id (`1733456789012-0`)."""


def check_entry_id(entry_id: str) -> str:
    if not _ENTRY_ID.match(entry_id):
        raise InvalidEntryId(f"{entry_id!r} is not a dead-letter id (like 1733456789012-0)")
    return entry_id


def never() -> bool:
    return False


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
class Snapshot:
    """How many entries a stream holds and the last one's id, read together."""

    count: int
    last_id: str | None


@dataclass(frozen=True, slots=True)
class PurgeReport:
    total: int
    removed: int
    interrupted: bool


def _entry(stream: str, entry_id: bytes | str, fields: dict[bytes, bytes]) -> DeadLetterEntry:
    raw = fields.get(DATA_FIELD, b"").decode(errors="replace")
    try:
        message = decode(raw)
    except UndecodableMessage:
        message = None
    letter = message if isinstance(message, DeadLetter) else None
    return DeadLetterEntry(entry_id=_text(entry_id), stream=stream, letter=letter, raw=raw)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class DeadLetters:
    def __init__(self, redis: RedisClient, *, key_prefix: str) -> None:
        self.redis = redis
        self.prefix = key_prefix

    def key(self, stream: str) -> str:
        return stream_key(self.prefix, dlq_name(stream))

    async def size(self, stream: str) -> int:
        return int(await self.redis.xlen(self.key(stream)))

    async def snapshot(self, stream: str) -> Snapshot:
        # one command, so the count and the last id agree (and it works on a cluster)
        try:
            info: Any = await self.redis.xinfo_stream(self.key(stream))
        except ResponseError as error:
            if "no such key" in str(error):
                return Snapshot(0, None)
            raise
        last = info.get("last-entry")
        return Snapshot(int(info["length"]), _text(last[0]) if last else None)

    async def entries(self, stream: str, *, limit: int = PAGE) -> list[DeadLetterEntry]:
        entries: Any = await self.redis.xrange(self.key(stream), count=limit)
        return [_entry(stream, entry_id, fields) for entry_id, fields in entries]

    async def get(self, stream: str, entry_id: str) -> DeadLetterEntry | None:
        check_entry_id(entry_id)
        entries: Any = await self.redis.xrange(self.key(stream), entry_id, entry_id)
        return _entry(stream, *entries[0]) if entries else None

    async def pages(
        self, stream: str, *, end: str = "+", page: int = PAGE
    ) -> AsyncIterator[list[DeadLetterEntry]]:
        """The entries up to `end`, a page at a time, in id order. An entry removed while the
        caller holds its page is not read again; the next page starts after the page's last."""
        start = "-"
        while True:
            found: Any = await self.redis.xrange(self.key(stream), start, end, count=page)
            if not found:
                return
            yield [_entry(stream, entry_id, fields) for entry_id, fields in found]
            if len(found) < page:
                return
            start = "(" + _text(found[-1][0])

    async def purge(self, stream: str, entry_ids: list[str]) -> int:
        """Delete the given entries; how many there were."""
        for entry_id in entry_ids:
            check_entry_id(entry_id)
        return int(await self.redis.xdel(self.key(stream), *entry_ids)) if entry_ids else 0

    async def purge_all(
        self,
        stream: str,
        *,
        stop: Callable[[], bool] = never,
        on_removed: Callable[[int], None] | None = None,
    ) -> PurgeReport:
        """Delete the entries present now, a page per XDEL; `stop()` is asked between pages."""
        snapshot = await self.snapshot(stream)
        removed = 0
        if snapshot.last_id is not None:
            async for page in self.pages(stream, end=snapshot.last_id):
                if stop():
                    return PurgeReport(snapshot.count, removed, interrupted=True)
                count = await self.purge(stream, [entry.entry_id for entry in page])
                removed += count
                if on_removed is not None:
                    on_removed(count)
        return PurgeReport(snapshot.count, removed, interrupted=False)

    async def discard_jobs(self, stream: str, job_ids: Collection[str]) -> int:
        """Delete the entries of these jobs (a user retried or deleted them); how many."""
        wanted, removed, scanned = set(job_ids), 0, 0
        if not wanted:
            return 0
        async for page in self.pages(stream):
            matching = [
                entry.entry_id
                for entry in page
                if entry.letter is not None and entry.letter.job_id in wanted
            ]
            if matching:
                removed += int(await self.redis.xdel(self.key(stream), *matching))
            scanned += len(page)
            if scanned >= DISCARD_SCAN_LIMIT:
                break
        return removed
