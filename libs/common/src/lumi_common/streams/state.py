"""What a job stream looks like to an operator: its length, its consumer group's pending
entries and lag, its consumers and how long each has been idle, its dead letters.

Shared by `lumi streams`, `lumi doctor` and the admin API (`/api/admin/streams`). Kept light
(NamedTuples, no pydantic): the CLI imports it on its fast start path. Every call names one key,
so it works on Redis Cluster too.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from redis.exceptions import ResponseError

from lumi_common.redis_client import RedisClient
from lumi_common.streams.names import dlq_name, group_name, stream_key


class StreamState(NamedTuple):  # not a dataclass, which `lumi --help` would import
    key: str
    length: int
    has_group: bool
    pending: int
    lag: int | None  # None: Redis cannot tell (entries deleted inside the group's range)
    consumers: int
    dlq: int

    def row(self) -> dict[str, Any]:
        return {
            "stream": self.key,
            "length": self.length,
            "pending": self.pending,
            "lag": self.lag,
            "consumers": self.consumers,
            "dlq": self.dlq,
        }


class ConsumerState(NamedTuple):
    name: str
    pending: int
    idle_ms: int  # since its last attempted read or claim
    inactive_ms: int | None  # since its last successful one (Redis 7.2+), else None


async def stream_state(redis: RedisClient, prefix: str, stream: str) -> StreamState:
    """A job stream and its consumer group as XINFO sees them (lag needs Redis 7)."""
    key = stream_key(prefix, stream)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xlen(key)
        pipe.exists(key)
        pipe.xlen(stream_key(prefix, dlq_name(stream)))
        length, exists, dead = await pipe.execute()
    groups: list[dict[str, Any]] = await redis.xinfo_groups(key) if exists else []
    group = next((g for g in groups if _text(g["name"]) == group_name(stream)), None)
    if group is None:
        return StreamState(key, int(length), False, 0, int(length), 0, int(dead))
    lag = None if group["lag"] is None else int(group["lag"])
    return StreamState(
        key, int(length), True, int(group["pending"]), lag, int(group["consumers"]), int(dead)
    )


async def consumer_states(redis: RedisClient, prefix: str, stream: str) -> list[ConsumerState]:
    """The consumers of the stream's group, by name; none when the group does not exist yet."""
    try:
        found: list[dict[str, Any]] = await redis.xinfo_consumers(
            stream_key(prefix, stream), group_name(stream)
        )
    except ResponseError as error:  # no stream or no group yet: nobody consumes it
        if "no such key" in str(error).lower() or "nogroup" in str(error).lower():
            return []
        raise
    states = [
        ConsumerState(
            name=_text(consumer["name"]),
            pending=int(consumer["pending"]),
            idle_ms=int(consumer["idle"]),
            inactive_ms=_inactive(consumer.get("inactive")),
        )
        for consumer in found
    ]
    return sorted(states, key=lambda state: state.name)


def _inactive(value: Any) -> int | None:
    # Redis says -1 for a consumer that never read successfully
    return None if value is None or int(value) < 0 else int(value)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
