"""Stream housekeeping: trimming keeps every entry some group still needs; only idle consumers
with nothing pending are removed; one replica at a time does it."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis

from lumi_common.streams.housekeeping import housekeep, remove_idle_consumers, trim_acknowledged
from tests.support.pipeline import stream_entries


async def read(redis: Redis, key: str, group: str, consumer: str, count: int) -> list[bytes]:
    reply: Any = await redis.xreadgroup(group, consumer, {key: ">"}, count=count)
    return [entry_id for _, entries in reply for entry_id, _ in entries]


async def ids_in(redis: Redis, key: str) -> list[bytes]:
    return [entry_id for entry_id, _ in await stream_entries(redis, key)]


async def test_trimming_never_drops_pending_or_undelivered_entries(
    redis: Redis, key_prefix: str
) -> None:
    key = f"{key_prefix}:{{image-jobs}}"
    assert await trim_acknowledged(redis, key) == 0  # no stream yet
    ids = [await redis.xadd(key, {b"data": str(n).encode()}) for n in range(10)]
    assert await trim_acknowledged(redis, key) == 0  # no group yet: nobody said what is done
    await redis.xgroup_create(key, "workers", id="0")
    await redis.xgroup_create(key, "auditors", id="0")
    delivered = await read(redis, key, "workers", "w1", 6)
    assert delivered == ids[:6]
    await redis.xack(key, "workers", ids[0], ids[1], ids[3])  # 2, 4 and 5 stay pending

    assert await trim_acknowledged(redis, key) == 0  # the auditors have read nothing yet
    await redis.xgroup_destroy(key, "auditors")
    assert await trim_acknowledged(redis, key) == 2  # below the oldest pending entry only
    assert await ids_in(redis, key) == ids[2:]

    await redis.xack(key, "workers", ids[2], ids[4], ids[5])
    assert await trim_acknowledged(redis, key) == 4  # all delivered and acknowledged ones
    assert await ids_in(redis, key) == ids[6:]  # never delivered: kept
    assert await read(redis, key, "workers", "w1", 10) == ids[6:]


async def test_idle_consumers_with_nothing_pending_are_removed(
    redis: Redis, key_prefix: str
) -> None:
    key = f"{key_prefix}:{{image-jobs}}"
    await redis.xgroup_create(key, "workers", id="0", mkstream=True)
    for n in range(2):
        await redis.xadd(key, {b"data": str(n).encode()})
    assert len(await read(redis, key, "workers", "holder", 1)) == 1  # dead, but holds a message
    done = await read(redis, key, "workers", "empty", 1)  # dead, finished what it had
    await redis.xack(key, "workers", *done)
    await redis.xgroup_createconsumer(key, "workers", "me")
    await asyncio.sleep(0.3)
    assert await remove_idle_consumers(redis, key, "workers", keep="me", idle_ms=10_000) == []
    removed = await remove_idle_consumers(redis, key, "workers", keep="me", idle_ms=200)
    assert removed == ["empty"]
    consumers: list[dict[str, Any]] = await redis.xinfo_consumers(key, "workers")
    assert sorted(c["name"].decode() for c in consumers) == ["holder", "me"]


async def test_one_replica_at_a_time_does_housekeeping(redis: Redis, key_prefix: str) -> None:
    key = f"{key_prefix}:{{image-jobs}}"
    await redis.xgroup_create(key, "workers", id="0", mkstream=True)
    assert await housekeep(redis, key, "workers", me="a", every_s=60)
    assert not await housekeep(redis, key, "workers", me="b", every_s=60)
