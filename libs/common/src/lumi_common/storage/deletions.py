"""Deleting stored files whose rows are gone, without ever failing the request that deleted them.

The transaction that deletes the rows also records the folders (`schedule`); right after its
commit the caller deletes them at once (`delete_now`, best effort). The record stays due a while
longer: a worker that was mid-job when the rows went may still write a file there, and the sweep
(`FileSweeper`, in the API process) removes that straggler, then the record. A storage that
refuses is retried with backoff, so a failure is logged, never lost and never a 500: the rows are
gone whatever happens to the files.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.changes import changed
from lumi_common.db.tables import FileDeletion
from lumi_common.ids import new_id
from lumi_common.storage.protocol import Storage
from lumi_common.time import utcnow

# longer than a job runs between its last check of its row and its file write
RECHECK_AFTER = timedelta(minutes=10)
# a sweeper that claimed a record and died gives it back after this long
CLAIM_FOR = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
BATCH = 100
ERROR_LIMIT = 2000

log = structlog.get_logger(__name__)


def schedule(session: AsyncSession, prefixes: Iterable[str], *, now: datetime) -> None:
    """Record the folders to delete, in the caller's transaction."""
    for prefix in prefixes:
        session.add(
            FileDeletion(
                id=new_id(), prefix=prefix, available_at=now + RECHECK_AFTER, created_at=now
            )
        )


async def delete_now(storage: Storage, prefixes: Iterable[str]) -> bool:
    """Delete the folders now; False when the storage refused one (the sweep retries it)."""
    done = True
    for prefix in prefixes:
        try:
            await storage.delete_prefix(prefix)
        except (OSError, ValueError) as exc:  # ValueError: the local store refused the path
            log.warning("files.delete.failed", prefix=prefix, error=repr(exc), retry="sweep")
            done = False
    return done


class FileSweeper:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], storage: Storage) -> None:
        self.sessionmaker = sessionmaker
        self.storage = storage

    async def run(self, stop: asyncio.Event, *, every: float) -> None:
        while not stop.is_set():
            try:
                await self.sweep_once()
            except SQLAlchemyError as exc:
                log.warning("files.sweep.failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                # jitter keeps replicas from sweeping in lockstep
                await asyncio.wait_for(stop.wait(), every * random.uniform(0.8, 1.2))

    async def sweep_once(self) -> int:
        """Delete every due folder this sweeper could claim; how many are gone."""
        gone = 0
        for record in await self._claim_due():
            try:
                await self.storage.delete_prefix(record.prefix)
            except (OSError, ValueError) as exc:
                await self._postpone(record, repr(exc))
                continue
            async with self.sessionmaker.begin() as session:
                await session.execute(delete(FileDeletion).where(FileDeletion.id == record.id))
            gone += 1
        return gone

    async def _claim_due(self) -> list[FileDeletion]:
        """Due records, each taken by a compare-and-set on `available_at` (one sweeper wins)."""
        now = utcnow()
        claimed = []
        async with self.sessionmaker.begin() as session:
            due = (
                await session.scalars(
                    select(FileDeletion)
                    .where(FileDeletion.available_at <= now)
                    .order_by(FileDeletion.available_at)
                    .limit(BATCH)
                )
            ).all()
            for record in due:
                taken = await changed(
                    session,
                    update(FileDeletion)
                    .where(
                        FileDeletion.id == record.id,
                        FileDeletion.available_at == record.available_at,
                    )
                    .values(available_at=now + CLAIM_FOR)
                    .execution_options(synchronize_session=False),
                )
                if taken == 1:
                    claimed.append(record)
        return claimed

    async def _postpone(self, record: FileDeletion, error: str) -> None:
        attempts = record.attempts + 1
        delay = min(MAX_BACKOFF, timedelta(minutes=2 ** min(attempts, 10)))
        log.warning(
            "files.sweep.delete_failed",
            prefix=record.prefix,
            attempts=attempts,
            error=error,
            retry_in_s=delay.total_seconds(),
        )
        async with self.sessionmaker.begin() as session:
            await session.execute(
                update(FileDeletion)
                .where(FileDeletion.id == record.id)
                .values(
                    attempts=attempts,
                    last_error=error[:ERROR_LIMIT],
                    available_at=utcnow() + delay,
                )
            )
