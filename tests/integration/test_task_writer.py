"""`TaskWriter`: creations that arrive together share a transaction, and each still gets the
outcome it would have had alone; a batch publishes its own events after its commit, the next
batch marks them, and whatever that misses is left to the relay. On the real database and Redis."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lumi_api.auth.service import CurrentUser, IssuedToken
from lumi_api.tasks import service
from lumi_api.tasks.idempotency import Idempotency
from lumi_api.tasks.repository import TaskRepository, TaskRows
from lumi_api.tasks.writer import TaskWriter
from lumi_common.db.tables import GeneratedImage, GenerationRequest, ImageJob, OutboxEvent
from lumi_common.outbox.after_commit import AfterCommit
from lumi_common.outbox.relay import Relay, RelayConfig
from lumi_common.outbox.signal import OutboxSignal
from lumi_common.streams.names import IMAGE_JOBS, stream_key
from lumi_common.streams.publish import EVENT_FIELD, StreamPublisher
from lumi_common.time import utcnow
from tests.support.pipeline import stream_entries

Sessions = async_sessionmaker[AsyncSession]


def after_commit(sessionmaker: Sessions, redis: Redis, key_prefix: str) -> AfterCommit:
    return AfterCommit(sessionmaker, StreamPublisher(redis, key_prefix), OutboxSignal())


@pytest.fixture
def writer(sessionmaker: Sessions, redis: Redis, key_prefix: str) -> TaskWriter:
    return TaskWriter(sessionmaker, after_commit(sessionmaker, redis, key_prefix))


@pytest.fixture
def counting_writer(sessionmaker: Sessions, redis: Redis, key_prefix: str) -> CountingWriter:
    return CountingWriter(sessionmaker, after_commit(sessionmaker, redis, key_prefix))


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
    sessionmaker: Sessions, alice: IssuedToken, counting_writer: CountingWriter
) -> None:
    writer = counting_writer
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
    sessionmaker: Sessions, alice: IssuedToken, counting_writer: CountingWriter
) -> None:
    writer = counting_writer
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
    sessionmaker: Sessions, alice: IssuedToken, writer: TaskWriter
) -> None:
    user = owner(alice)
    written, (dropped_id, dropped) = [rows(user), rows(user)], rows(user)
    writing = []
    for _, task in written:  # two batches under way, as many as the writer runs at once
        writing.append(asyncio.create_task(writer.write(task)))
        await asyncio.sleep(0)
    waiting = asyncio.create_task(writer.write(dropped))
    await asyncio.sleep(0)  # queued behind them
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.gather(*writing)
    await writer.drain()
    assert await counts(sessionmaker, [task_id for task_id, _ in written]) == [2, 8, 8, 8]
    assert await counts(sessionmaker, [dropped_id]) == [0, 0, 0, 0]


async def published_events(redis: Redis, key_prefix: str, event_ids: list[str]) -> list[str]:
    """The ids of these events in the image stream, once per entry."""
    entries = await stream_entries(redis, stream_key(key_prefix, IMAGE_JOBS))
    wanted = set(event_ids)
    return [found for _, fields in entries if (found := fields[EVENT_FIELD].decode()) in wanted]


async def unmarked(sessionmaker: Sessions, event_ids: list[str]) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(
                OutboxEvent.id.in_(event_ids), OutboxEvent.published_at.is_(None)
            )
        )
    return int(count or 0)


def event_ids(*tasks: TaskRows) -> list[str]:
    return [str(row["id"]) for task in tasks for row in task.events]


async def test_a_batch_publishes_its_own_events_and_marks_them(
    sessionmaker: Sessions, alice: IssuedToken, writer: TaskWriter, redis: Redis, key_prefix: str
) -> None:
    # no relay runs here: only the writer can have published them
    tasks = [rows(owner(alice))[1] for _ in range(5)]
    await asyncio.gather(*(writer.write(task) for task in tasks))
    await writer.published()
    ids = event_ids(*tasks)
    assert sorted(await published_events(redis, key_prefix, ids)) == sorted(ids)
    assert await unmarked(sessionmaker, ids) == 0  # nothing followed: marked at once

    # two batches under way at once, nothing after them: whichever ends last marks both
    two = [rows(owner(alice))[1] for _ in range(2)]
    writing = []
    for task in two:
        writing.append(asyncio.create_task(writer.write(task)))
        await asyncio.sleep(0)
    await asyncio.gather(*writing)
    await writer.published()
    assert await unmarked(sessionmaker, event_ids(*two)) == 0

    # the mark lost (the process died before it): the relay publishes them again, adding nothing
    async with sessionmaker.begin() as session:
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(published_at=None)
        )
    relay = Relay(sessionmaker, redis, RelayConfig(key_prefix=key_prefix))
    while await relay.publish_due():
        pass
    assert await unmarked(sessionmaker, ids) == 0
    assert sorted(await published_events(redis, key_prefix, ids)) == sorted(ids)


async def test_the_next_batch_carries_the_mark_of_the_last(
    engine: AsyncEngine, sessionmaker: Sessions, alice: IssuedToken, writer: TaskWriter,
    redis: Redis, key_prefix: str,
) -> None:  # fmt: skip
    earlier, task = rows(owner(alice))[1], rows(owner(alice))[1]
    # a batch that another followed at once: committed, published, its mark left to the next
    async with sessionmaker.begin() as session:
        await TaskRepository(session).add_tasks([earlier])
    await writer.after_commit.publish(earlier.events)
    assert await unmarked(sessionmaker, event_ids(earlier)) == 4
    commits = 0

    def count(*_: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(engine.sync_engine, "commit", count)
    try:
        await writer.write(task)
        await writer.published()
    finally:
        event.remove(engine.sync_engine, "commit", count)
    ids = event_ids(earlier, task)
    assert await unmarked(sessionmaker, ids) == 0
    assert sorted(await published_events(redis, key_prefix, ids)) == sorted(ids)
    # the task's own transaction marked the earlier events; nothing followed this batch, so a
    # transaction of their own marked its events
    assert commits == 2


async def test_with_redis_down_the_creation_commits_and_the_relay_publishes_later(
    sessionmaker: Sessions, alice: IssuedToken, redis: Redis, key_prefix: str
) -> None:
    signal = OutboxSignal()
    unreachable = Redis(host="127.0.0.1", port=1)  # nothing listens: refused at once
    writer = TaskWriter(
        sessionmaker, AfterCommit(sessionmaker, StreamPublisher(unreachable, key_prefix), signal)
    )
    try:
        task_id, task = rows(owner(alice))
        await writer.write(task)  # the creation stands: its rows are committed
        await writer.published()
    finally:
        await unreachable.aclose()
    assert await counts(sessionmaker, [task_id]) == [1, 4, 4, 4]
    ids = event_ids(task)
    assert await unmarked(sessionmaker, ids) == 4
    await asyncio.wait_for(signal.wait(30), 1)  # the relay was woken at once

    relay = Relay(sessionmaker, redis, RelayConfig(key_prefix=key_prefix), signal)
    while await relay.publish_due():
        pass
    assert sorted(await published_events(redis, key_prefix, ids)) == sorted(ids)
    assert await unmarked(sessionmaker, ids) == 0
