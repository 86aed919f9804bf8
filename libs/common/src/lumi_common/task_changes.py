"""Which tasks a transaction changed, announced on Redis pub/sub right after its commit.

Every change a client should see bumps the request's `updated_at` (`pipeline.requests`); the code
doing that also calls `changed(session, request_id)`. When that session commits, the ids go to
the `TaskChanges` attached to its sessionmaker, which publishes them at once, many commits in one
message, on one channel (`channel(prefix)`): each API replica listens there and pushes the new
state to its open event streams (`lumi_api.tasks.events`). A rolled-back transaction announces
nothing.

Only a hint, for latency: the database stays the truth. A notice lost (Redis down, a process
killed between its commit and the publish, a command without an announcer) delays an event
until the stream's next periodic check; it never changes what the stream shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from lumi_common.redis_client import RedisClient
from lumi_common.redis_pubsub import publish

log = structlog.get_logger(__name__)

_PENDING = "lumi.task_changes.pending"
_ANNOUNCER = "lumi.task_changes.announcer"
CHANNEL = "task-changes"


def channel(key_prefix: str) -> str:
    return f"{key_prefix}:{CHANNEL}"


def encode(request_ids: Iterable[str]) -> bytes:
    return " ".join(sorted(request_ids)).encode()


def decode(data: bytes) -> list[str]:
    return data.decode(errors="replace").split()


def changed(session: AsyncSession | Session, request_id: str) -> None:
    """Note that this transaction changed the task; announced only if it commits."""
    pending: set[str] = session.info.setdefault(_PENDING, set())
    pending.add(request_id)


class TaskChanges:
    """Publishes the ids of changed tasks after their commit, from one process."""

    def __init__(self, redis: RedisClient, *, key_prefix: str) -> None:
        self.redis = redis
        self.channel = channel(key_prefix)
        self._pending: set[str] = set()
        self._flushing: asyncio.Task[None] | None = None

    def attach(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Announce what the sessions of `sessionmaker` change, once they commit."""
        info: dict[Any, Any] = dict(sessionmaker.kw.get("info") or {})
        info[_ANNOUNCER] = self
        sessionmaker.configure(info=info)

    def announce(self, request_ids: Iterable[str]) -> None:
        """Queue ids for the next publish; called on the event loop's thread (after a commit)."""
        self._pending.update(request_ids)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def aclose(self) -> None:
        """Publish what is queued (before the Redis client closes)."""
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)

    async def _flush(self) -> None:
        # the commits that land while one message is on its way go together in the next
        while self._pending:
            ids, self._pending = self._pending, set()
            try:
                await publish(self.redis, self.channel, encode(ids))
            except Exception as exc:  # noqa: BLE001 - a hint lost: streams re-check the database
                log.warning("task_changes.publish.failed", error=repr(exc), count=len(ids))


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    announcer = session.info.get(_ANNOUNCER)
    if pending and isinstance(announcer, TaskChanges):
        announcer.announce(pending)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
