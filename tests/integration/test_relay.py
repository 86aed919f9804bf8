"""The outbox relay: several relays on one database publish each row once; a row published again
(the relay died before marking it) adds nothing; each stream keeps the rows' order; the retention
sweep deletes only rows published longer ago than the retention period."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.db.tables import OutboxEvent
from lumi_common.ids import new_id
from lumi_common.messages import ImageJobRequested, encode
from lumi_common.outbox.relay import Relay, RelayConfig
from lumi_common.settings import DatabaseSettings
from lumi_common.streams.names import IMAGE_JOBS, MODEL_JOBS, stream_key
from lumi_common.time import utcnow
from tests.support.backends import private_valkey
from tests.support.pipeline import stream_entries

pytestmark = pytest.mark.usefixtures("empty_outbox")

Sessions = async_sessionmaker[AsyncSession]


async def insert_events(sessionmaker: Sessions, count: int, **values: object) -> list[str]:
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "stream": IMAGE_JOBS,
            "key": new_id(),
            "payload": encode(ImageJobRequested(job_id=new_id(), request_id=new_id())).decode(),
            "available_at": now,
            "created_at": now,
            **values,
        }
        for _ in range(count)
    ]
    async with sessionmaker.begin() as session:
        await session.execute(insert(OutboxEvent), rows)
    return [str(row["id"]) for row in rows]


async def drain(relay: Relay) -> int:
    """Publish batches until none is due; the number of rows this relay claimed."""
    total = 0
    while published := await relay.publish_due():
        total += published
    return total


@pytest.mark.slow
async def test_two_relays_on_one_database_publish_each_row_once(
    database_url: str, sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    ids = await insert_events(sessionmaker, 3000)
    engines = [create_engine(DatabaseSettings(database_url=database_url)) for _ in range(2)]
    try:
        relays = [
            Relay(create_sessionmaker(engine), redis, RelayConfig(key_prefix, batch_size=50))
            for engine in engines
        ]
        claimed = await asyncio.gather(*(drain(relay) for relay in relays))
    finally:
        for engine in engines:
            await engine.dispose()

    print(f"\nrows claimed per relay: {claimed}")
    assert sum(claimed) == len(ids)  # no row claimed by both (the stream's dedup aside)
    assert min(claimed) > 0  # and both did take part
    entries = await stream_entries(redis, stream_key(key_prefix, IMAGE_JOBS))
    events = [fields[b"event"].decode() for _, fields in entries]
    assert len(events) == len(ids)
    assert sorted(events) == sorted(ids)
    async with sessionmaker() as session:
        unpublished = await session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None))
        )
        assert unpublished.all() == []


async def test_the_retention_sweep_deletes_old_published_rows_only(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    now = utcnow()
    old_published = await insert_events(sessionmaker, 3, published_at=now - timedelta(hours=25))
    recent = await insert_events(sessionmaker, 2, published_at=now - timedelta(hours=23))
    old_unpublished = await insert_events(sessionmaker, 2, created_at=now - timedelta(days=3))
    delayed = await insert_events(sessionmaker, 1, available_at=now + timedelta(days=2))
    relay = Relay(sessionmaker, redis, RelayConfig(key_prefix, retention=timedelta(hours=24)))

    assert await relay.sweep() == len(old_published)
    assert await relay.sweep() == 0
    async with sessionmaker() as session:
        left = set((await session.scalars(select(OutboxEvent.id))).all())
    assert left == {*recent, *old_unpublished, *delayed}


async def test_a_batch_published_again_adds_nothing_and_each_stream_keeps_its_order(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    # interleaved streams, in id order (ULIDs made in sequence)
    images, models = [], []
    for _ in range(5):
        images += await insert_events(sessionmaker, 2)
        models += await insert_events(sessionmaker, 1, stream=MODEL_JOBS)
    relay = Relay(sessionmaker, redis, RelayConfig(key_prefix, batch_size=100))
    assert await drain(relay) == 15
    # the relay died after its XADDs, before its commit: the rows are due again
    async with sessionmaker.begin() as session:
        await session.execute(update(OutboxEvent).values(published_at=None))
    assert await drain(relay) == 15

    for stream, ids in ((IMAGE_JOBS, images), (MODEL_JOBS, models)):
        entries = await stream_entries(redis, stream_key(key_prefix, stream))
        assert [fields[b"event"].decode() for _, fields in entries] == ids


async def test_the_relay_reloads_its_script_when_redis_lost_it(
    sessionmaker: Sessions, key_prefix: str
) -> None:
    """A restarted Redis no longer has the publish script (called by its hash): the relay loads
    it again and publishes, instead of failing every cycle. A private server: the flush is its."""
    with private_valkey() as server:
        client = Redis.from_url(server.url)
        try:
            relay = Relay(sessionmaker, client, RelayConfig(key_prefix, batch_size=100))
            ids = await insert_events(sessionmaker, 3)
            assert await drain(relay) == 3
            await client.script_flush()  # as after a restart
            ids += await insert_events(sessionmaker, 2)
            assert await drain(relay) == 2
            entries = await stream_entries(client, stream_key(key_prefix, IMAGE_JOBS))
            assert [fields[b"event"].decode() for _, fields in entries] == ids
        finally:
            await client.aclose()
