"""Task creations that arrive together share one transaction (`lumi_common.db.group_commit`,
the same group commit the workers use for claims and completions).

On this stack a transaction costs far more CPU than the rows it writes (SQLAlchemy, the
pure-Python driver, a round trip per statement): written alone, the four INSERTs and the COMMIT
of a creation cost far more than each of eight creations sharing one transaction
(docs/performance.md, "Branch `api-perf`"). So a creation hands its rows to the writer and
waits for its own outcome. While one batch is being written, the creations that arrive
meanwhile wait for the next, so a busy process writes in batches and an idle one writes each
creation at once: no timer adds latency.

Each task is still written with its events in one transaction (the outbox's promise). A batch
that fails is written again one task at a time, so each creation gets the outcome it would have
had alone: the loser of an `Idempotency-Key` race gets its IntegrityError, a bad row fails only
its own request. A creation cancelled before its batch starts (the client went away) is not
written; once its batch is being written it commits with the others, as a commit in flight does.

After the commit the writer publishes the batch's events itself, from the rows in hand
(`lumi_common.outbox.after_commit`), and the next batch's transaction marks them published: the
relay would otherwise read them back, publish them and mark them in a transaction of its own.
The relay stays the fallback for anything this misses. The publish runs beside the answer, not
before it: a creation is done once committed, and a hung Redis must not hold its answer back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.keys import OUTBOX_SIGNAL, REDIS, SESSIONMAKER, SETTINGS
from lumi_api.tasks.repository import TaskRepository, TaskRows
from lumi_common.db.group_commit import GroupCommit
from lumi_common.outbox.after_commit import AfterCommit, mark_published
from lumi_common.streams.publish import StreamPublisher

# tasks per transaction at most: 13 rows each, a batch of 32 stays a small transaction
MAX_BATCH = 32
# batches written at once: with one, every waiting creation sat in the batch being written and
# the event loop idled through its round trips; with two, the next batch is built and sent
# meanwhile (measured: docs/performance.md, "API, 2026-11-29 03:00–04:00 UTC")
IN_FLIGHT = 2


class TaskWriter:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], after_commit: AfterCommit
    ) -> None:
        self.sessionmaker = sessionmaker
        self.after_commit = after_commit
        self._group: GroupCommit[TaskRows, None] = GroupCommit(
            self._write,
            name="tasks",
            max_batch=MAX_BATCH,
            in_flight=IN_FLIGHT,
        )
        self._publishing: set[asyncio.Task[None]] = set()

    async def write(self, task: TaskRows) -> None:
        """Commit one task's rows; raises what writing it alone would have raised."""
        await self._group.submit(task)

    async def drain(self) -> None:
        """Until every creation handed over is written (before the engine is disposed)."""
        await self._group.wait_idle()
        await self.published()
        await self.after_commit.mark_pending()

    async def published(self) -> None:
        """Until the events of what was written so far are published, or left to the relay."""
        while self._publishing:
            await asyncio.wait(self._publishing)

    async def _write(self, tasks: list[TaskRows]) -> list[None]:
        await self._commit(tasks)
        publishing = asyncio.create_task(self._publish([e for t in tasks for e in t.events]))
        self._publishing.add(publishing)
        publishing.add_done_callback(self._publishing.discard)
        return [None] * len(tasks)

    async def _publish(self, events: Iterable[Mapping[str, Any]]) -> None:
        await self.after_commit.publish(events)
        # marked by the next batch's transaction when one is waiting or being written (its
        # publish, ending later, asks the same question); else here, at once. Asked after the
        # publish: a batch that started before it would not carry these marks
        if not self._group.queued and not self._group.writing:
            await self.after_commit.mark_pending()

    async def _commit(self, tasks: list[TaskRows]) -> None:
        marks = self.after_commit.take_marks()
        try:
            async with self.sessionmaker.begin() as session:
                await TaskRepository(session).add_tasks(tasks)
                await mark_published(session, marks)
        except BaseException:
            self.after_commit.give_back(marks)
            raise


TASK_WRITER = web.AppKey("task_writer", TaskWriter)


async def task_writer_ctx(app: web.Application) -> AsyncIterator[None]:
    publisher = StreamPublisher(app[REDIS], app[SETTINGS].redis_key_prefix)
    writer = TaskWriter(
        app[SESSIONMAKER], AfterCommit(app[SESSIONMAKER], publisher, app[OUTBOX_SIGNAL])
    )
    app[TASK_WRITER] = writer
    yield
    await writer.drain()
