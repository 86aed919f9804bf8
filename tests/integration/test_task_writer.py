"""`TaskWriter`: creations that arrive together share a transaction, and each still gets the
outcome it would have had alone, on the real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import CurrentUser, IssuedToken
from lumi_api.tasks import service
from lumi_api.tasks.idempotency import Idempotency
from lumi_api.tasks.repository import TaskRows
from lumi_api.tasks.writer import TaskWriter
from lumi_common.db.tables import GeneratedImage, GenerationRequest, ImageJob, OutboxEvent
from lumi_common.time import utcnow

Sessions = async_sessionmaker[AsyncSession]


class CountingWriter(TaskWriter):
    """Counts the transactions it commits (the real ones: this only counts)."""

    transactions = 0

    async def _commit(self, tasks: list[TaskRows]) -> None:
        self.transactions += 1
        await super()._commit(tasks)


def owner(token: IssuedToken) -> CurrentUser:
    now = utcnow()
    return CurrentUser(token.user_id, "a@example.com", "a", False, "t", now + timedelta(days=1))


def rows(user: CurrentUser, key: str | None = None) -> tuple[str, TaskRows]:
    idempotency = None if key is None else Idempotency(key=key, fingerprint="f" * 64)
    task, written = service.new_task(
        owner=user, prompt="a kite", variants=["a", "b", "c", "d"], now=utcnow(),
        idempotency=idempotency,
    )  # fmt: skip
    return task.id, written


async def counts(sessionmaker: Sessions, task_ids: list[str]) -> list[int]:
    """Per table (request, images, jobs, events), the rows these tasks have."""
    async with sessionmaker() as session:
        found = [
            await session.scalar(select(func.count()).where(GenerationRequest.id.in_(task_ids))),
            await session.scalar(
                select(func.count()).where(GeneratedImage.request_id.in_(task_ids))
            ),
            await session.scalar(select(func.count()).where(ImageJob.request_id.in_(task_ids))),
        ]
        keys = select(ImageJob.id).where(ImageJob.request_id.in_(task_ids))
        found.append(await session.scalar(select(func.count()).where(OutboxEvent.key.in_(keys))))
    return [int(count or 0) for count in found]


async def test_creations_arriving_together_share_transactions(
    sessionmaker: Sessions, alice: IssuedToken
) -> None:
    writer = CountingWriter(sessionmaker)
    tasks = [rows(owner(alice)) for _ in range(20)]
    await asyncio.gather(*(writer.write(written) for _, written in tasks))
    ids = [task_id for task_id, _ in tasks]
    assert await counts(sessionmaker, ids) == [20, 80, 80, 80]
    # all handed over in one turn of the event loop, before the writer ran: one transaction
    assert writer.transactions == 1
    # while a batch is being written, what arrives waits for the next one
    later = [rows(owner(alice)) for _ in range(10)]
    first = asyncio.create_task(writer.write(later[0][1]))
    await asyncio.sleep(0)
    await asyncio.gather(first, *(writer.write(written) for _, written in later[1:]))
    assert await counts(sessionmaker, [task_id for task_id, _ in later]) == [10, 40, 40, 40]
    assert writer.transactions == 3


async def test_a_task_that_cannot_be_written_fails_alone(
    sessionmaker: Sessions, alice: IssuedToken
) -> None:
    writer = CountingWriter(sessionmaker)
    user = owner(alice)
    first = rows(user, key="same-key")
    await writer.write(first[1])
    before = writer.transactions
    # one batch: a good task, one reusing the key (the unique index refuses it), a good task
    batch = [rows(user), rows(user, key="same-key"), rows(user)]
    outcomes = await asyncio.gather(
        *(writer.write(written) for _, written in batch), return_exceptions=True
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], IntegrityError)
    assert outcomes[2] is None
    assert await counts(sessionmaker, [batch[0][0], batch[2][0]]) == [2, 8, 8, 8]
    assert await counts(sessionmaker, [batch[1][0]]) == [0, 0, 0, 0]
    assert writer.transactions - before == 1 + 3  # the failed batch, then each task alone


async def test_a_creation_cancelled_before_its_batch_is_not_written(
    sessionmaker: Sessions, alice: IssuedToken
) -> None:
    writer = TaskWriter(sessionmaker)
    user = owner(alice)
    (first_id, first), (second_id, second) = rows(user), rows(user)
    writing = asyncio.create_task(writer.write(first))
    await asyncio.sleep(0)  # its batch is being written
    waiting = asyncio.create_task(writer.write(second))
    await asyncio.sleep(0)  # queued behind it
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await writing
    await writer.drain()
    assert await counts(sessionmaker, [first_id]) == [1, 4, 4, 4]
    assert await counts(sessionmaker, [second_id]) == [0, 0, 0, 0]
