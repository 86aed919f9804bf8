"""`lumi_stream_group_lag` on the real Redis: Redis's own count while it has one, and the
entries after the group's last delivered id, counted up to a bound, when Redis reports none
(an entry past that id was deleted with XDEL)."""

from __future__ import annotations

from prometheus_client.metrics_core import Metric

from lumi_common.metrics.streams import StreamStats
from lumi_common.redis_client import RedisClient
from lumi_common.streams.names import IMAGE_JOBS, stream_key

GROUP = "lag-probe"


def lag_of(families: list[Metric]) -> float | None:
    [lag] = [family for family in families if family.name == "lumi_stream_group_lag"]
    values = [s.value for s in lag.samples if s.labels == {"stream": IMAGE_JOBS, "group": GROUP}]
    return values[0] if values else None


async def stream_with_a_deletion(redis: RedisClient, key_prefix: str) -> None:
    """Six entries, two delivered to the group, then the fourth deleted: three wait."""
    key = stream_key(key_prefix, IMAGE_JOBS)
    ids = [await redis.xadd(key, {"n": str(n)}) for n in range(6)]
    await redis.xgroup_create(key, GROUP, id="0")
    await redis.xreadgroup(GROUP, "probe", {key: ">"}, count=2)
    await redis.xdel(key, ids[3])
    [group] = await redis.xinfo_groups(key)
    assert group["lag"] is None, "Redis counts past a deletion now: this test needs another case"


async def test_redis_lag_is_exported_as_redis_counts_it(
    redis: RedisClient, key_prefix: str
) -> None:
    key = stream_key(key_prefix, IMAGE_JOBS)
    for n in range(5):
        await redis.xadd(key, {"n": str(n)})
    await redis.xgroup_create(key, GROUP, id="0")
    await redis.xreadgroup(GROUP, "probe", {key: ">"}, count=2)
    stats = StreamStats(redis, key_prefix=key_prefix, streams=[IMAGE_JOBS], max_age=0)
    assert lag_of(await stats.read()) == 3


async def test_a_lag_redis_cannot_tell_is_counted_from_the_last_delivered_id(
    redis: RedisClient, key_prefix: str
) -> None:
    await stream_with_a_deletion(redis, key_prefix)
    stats = StreamStats(redis, key_prefix=key_prefix, streams=[IMAGE_JOBS], max_age=0)
    assert lag_of(await stats.read()) == 3  # the deleted entry will never be delivered


async def test_the_count_stops_at_its_bound(redis: RedisClient, key_prefix: str) -> None:
    await stream_with_a_deletion(redis, key_prefix)
    stats = StreamStats(
        redis, key_prefix=key_prefix, streams=[IMAGE_JOBS], max_age=0, lag_count_limit=2
    )
    assert lag_of(await stats.read()) == 2  # at least that many
