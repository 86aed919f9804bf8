"""Pub/sub on one Redis server or on a Redis Cluster.

One server: PUBLISH and SUBSCRIBE, as ever. A cluster: sharded pub/sub (SPUBLISH and SSUBSCRIBE,
Redis 7.0+). Its channel hashes to a slot like a key; a message reaches the nodes of that slot's
shard only, and subscribers listen on the shard's master. Classic PUBLISH also works on a
cluster, but every message is broadcast over the cluster bus to every node, so its cost grows
with the cluster; and the node a classic subscriber happens to listen on says nothing when the
cluster changes under it. redis-py (8.1) routes SSUBSCRIBE to the slot's owner, and a node that
loses the slot (a failover, a resharding) tells its subscribers with SUNSUBSCRIBE.

A subscription can end: the connection breaks (the server or the master restarted or died) or
the node ends it (SUNSUBSCRIBE). `Subscription.next_message` then raises a `ConnectionError`
(`SubscriptionLost` for the latter) and the caller subscribes again after a pause; on a cluster
`subscribe` first refreshes the client's map of slots, so it subscribes where the channel lives
now. Messages published in between are lost: pub/sub delivers only to those listening.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from redis.asyncio import RedisCluster
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterPubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

from lumi_common.redis_client import ClusterUnavailable, RedisClient


class SubscriptionLost(RedisConnectionError):
    """The node ended the subscription (it no longer serves the channel's slot)."""


class Subscription(Protocol):
    async def next_message(self, wait_seconds: float) -> bytes | None:
        """The next message's data, or None when none came within `wait_seconds`."""
        ...


async def publish(redis: RedisClient, channel: str, message: str | bytes) -> int:
    """Send `message` to the channel's subscribers; how many received it."""
    if isinstance(redis, RedisCluster):
        return int(await redis.spublish(channel, message))
    return int(await redis.publish(channel, message))


@asynccontextmanager
async def subscribe(redis: RedisClient, channel: str) -> AsyncIterator[Subscription]:
    """Listen to one channel until the block ends."""
    if isinstance(redis, RedisCluster):
        sharded = redis.pubsub()
        try:
            try:
                await redis.initialize()  # the first time: discover the cluster
                await redis.nodes_manager.initialize()  # again: where the slot lives now
                await sharded.ssubscribe(channel)
            except RedisClusterException as exc:  # no node answers, a slot without a master
                raise ClusterUnavailable(str(exc)) from exc
            yield _Sharded(sharded)
        finally:
            await sharded.aclose()
        return
    async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
        await pubsub.subscribe(channel)
        yield _Classic(pubsub)


class _Classic:
    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    async def next_message(self, wait_seconds: float) -> bytes | None:
        message: dict[str, Any] | None = await self._pubsub.get_message(timeout=wait_seconds)
        return _data(message) if message is not None else None


class _Sharded:
    def __init__(self, pubsub: ClusterPubSub) -> None:
        self._pubsub = pubsub

    async def next_message(self, wait_seconds: float) -> bytes | None:
        if not self._pubsub.node_pubsub_mapping:  # nothing left to read from: it would not wait
            raise SubscriptionLost("no shard subscription is left")
        message = await self._pubsub.get_sharded_message(timeout=wait_seconds)
        if message is None:
            return None
        kind = _text(message["type"])
        if kind == "sunsubscribe":
            raise SubscriptionLost("the node ended the subscription (its slot moved)")
        return _data(message) if kind == "smessage" else None


def _data(message: dict[str, Any]) -> bytes | None:
    data = message.get("data")
    if isinstance(data, str):  # a client made with decode_responses
        return data.encode()
    return data if isinstance(data, bytes) else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
