"""What a cluster client does differently, on the real cluster: commands of one process spread
over the nodes, a batch of script calls split into a pipeline per node, sharded pub/sub."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from redis.exceptions import RedisError

from lumi_common.redis_client import RedisClient, open_redis
from lumi_common.redis_pubsub import publish, subscribe
from lumi_common.redis_scripts import BatchedScript, Call
from lumi_common.settings import RedisSettings
from lumi_common.streams.names import stream_key
from lumi_common.streams.publish import StreamPublisher
from tests.support.pipeline import stream_entries
from tests.support.processes import free_port
from tests.support.redis_cluster import Node, RedisClusterServers

pytestmark = pytest.mark.slow

_INCR = BatchedScript("return redis.call('INCR', KEYS[1])")


def one_per_master(
    cluster: RedisClusterServers, name: str, count: int = 3
) -> dict[int, tuple[str, Node]]:
    """`count` names made from `name`, each served by a different master, by the master's port."""
    found: dict[int, tuple[str, Node]] = {}
    for n in itertools.count():
        candidate = f"{name}-{n}"
        node = cluster.master_of(candidate)
        found.setdefault(node.port, (candidate, node))
        if len(found) == count:
            return found
    raise AssertionError("unreachable")


async def test_a_process_starting_under_load_runs_each_command_once(
    redis_url: str, key_prefix: str
) -> None:
    """redis-py's cluster client, used by many commands before it knows the cluster, races its
    own discovery (commands fail, some run twice): `open_redis` has it learn the layout first."""
    keys = [f"{key_prefix}:hits:{n}" for n in range(6)]  # spread over the masters
    for _ in range(8):
        redis = await open_redis(RedisSettings(redis_url=redis_url))
        try:
            counts = await asyncio.gather(*(redis.incr(keys[n % 6]) for n in range(60)))
            assert sorted(counts)[-6:] == [10] * 6
            assert [int(await redis.getdel(key) or 0) for key in keys] == [10] * 6
        finally:
            await redis.aclose()


async def test_a_batch_of_calls_over_every_node_resends_only_what_a_node_refused(
    redis: RedisClient, redis_cluster: RedisClusterServers, key_prefix: str
) -> None:
    """A node without the script (a promoted replica, SCRIPT FLUSH) refuses its calls while the
    other nodes run theirs: resending the whole batch would count those twice."""
    spread = one_per_master(redis_cluster, f"{key_prefix}:counter")
    calls: list[Call] = [([key], []) for key, _ in spread.values()]
    assert await _INCR.call_many(redis, calls) == [1, 1, 1]
    _, forgetful = next(iter(spread.values()))
    with forgetful.client() as node:
        node.script_flush()
    assert await _INCR.call_many(redis, calls) == [2, 2, 2]
    assert await _INCR.call_many(redis, calls) == [3, 3, 3]


async def test_one_publish_reaches_streams_on_every_node_once_and_in_order(
    redis: RedisClient, redis_cluster: RedisClusterServers, key_prefix: str
) -> None:
    """The relay publishes the streams of a batch in one pipeline; on a cluster it is split by
    node, and each stream's events stay in order and are added once however often it is sent."""
    streams = [name for name, _ in one_per_master(redis_cluster, "jobs").values()]
    assert len({redis_cluster.master_of(stream_key(key_prefix, s)).port for s in streams}) == 3
    batch = {stream: [(f"{stream}-{n}", f"payload {n}") for n in range(4)] for stream in streams}
    publisher = StreamPublisher(redis, key_prefix)
    await publisher.publish_many(batch)
    await publisher.publish_many(batch)  # the relay died before marking its rows
    for stream, events in batch.items():
        entries = await stream_entries(redis, stream_key(key_prefix, stream))
        assert [fields[b"event"].decode() for _, fields in entries] == [e for e, _ in events]


async def test_pub_sub_is_sharded_on_the_master_of_the_channel(
    redis: RedisClient, redis_cluster: RedisClusterServers, key_prefix: str
) -> None:
    channel = f"{key_prefix}:announcements"
    async with subscribe(redis, channel) as subscription:
        owner = redis_cluster.master_of(channel)
        with owner.client() as node:
            assert node.execute_command("PUBSUB SHARDNUMSUB", channel) == [(channel.encode(), 1)]
        assert await publish(redis, channel, "token:abc") == 1
        received = None
        async with asyncio.timeout(5):
            while received is None:
                received = await subscription.next_message(wait_seconds=1.0)
        assert received == b"token:abc"


async def test_an_unreachable_cluster_fails_as_a_redis_error_as_one_server_does() -> None:
    """What keeps the relay, the consumers and the token listener alive through an outage is
    `except RedisError`; redis-py's own cluster errors for it are not RedisErrors."""
    redis = await open_redis(RedisSettings(redis_url=f"redis+cluster://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(RedisError):
            await redis.get("anything")
        with pytest.raises(RedisError):
            await _INCR.call_many(redis, [(["a"], []), (["b"], [])])
        with pytest.raises(RedisError):
            async with subscribe(redis, "announcements"):
                pass
    finally:
        await redis.aclose()
