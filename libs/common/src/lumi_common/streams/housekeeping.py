"""Stream housekeeping: trim what every group has acknowledged, remove idle empty consumers.

Trimming never drops an entry that is pending (delivered, not acknowledged) or not yet delivered
to some group: the floor is the oldest such entry across all groups of the stream.
"""

from __future__ import annotations

from typing import Any

import structlog
from redis.exceptions import ResponseError

from lumi_common.redis_client import RedisClient

log = structlog.get_logger(__name__)

IDLE_CONSUMER_MS = 3600 * 1000


def _parse(stream_id: bytes | str) -> tuple[int, int]:
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


async def trim_floor(redis: RedisClient, key: str) -> tuple[int, int] | None:
    """The oldest id any group still needs, or None when there is no group yet."""
    if not await redis.exists(key):
        return None
    groups: list[dict[str, Any]] = await redis.xinfo_groups(key)
    floors = []
    for group in groups:
        summary: dict[str, Any] = await redis.xpending(key, group["name"])
        if summary["pending"]:
            floors.append(_parse(summary["min"]))
        else:
            ms, seq = _parse(group["last-delivered-id"])
            floors.append((ms, seq + 1))
    return min(floors) if floors else None


async def trim_acknowledged(redis: RedisClient, key: str) -> int:
    floor = await trim_floor(redis, key)
    if floor is None:
        return 0
    trimmed = int(await redis.xtrim(key, minid=f"{floor[0]}-{floor[1]}", approximate=False))
    if trimmed:
        log.info("stream.trimmed", stream=key, entries=trimmed)
    return trimmed


async def remove_idle_consumers(
    redis: RedisClient, key: str, group: str, *, keep: str, idle_ms: int = IDLE_CONSUMER_MS
) -> list[str]:
    """Remove consumers idle for longer than `idle_ms` with nothing pending (never `keep`)."""
    try:
        consumers: list[dict[str, Any]] = await redis.xinfo_consumers(key, group)
    except ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        return []  # housekeeping ran before the consumer created its group: nothing to remove
    removed = []
    for consumer in consumers:
        name = (
            consumer["name"].decode() if isinstance(consumer["name"], bytes) else consumer["name"]
        )
        if name != keep and consumer["pending"] == 0 and consumer["idle"] > idle_ms:
            await redis.xgroup_delconsumer(key, group, name)
            removed.append(name)
    if removed:
        log.info("stream.consumers_removed", stream=key, consumers=removed)
    return removed


async def housekeep(redis: RedisClient, key: str, group: str, *, me: str, every_s: int) -> bool:
    """Run housekeeping unless another replica did within `every_s`; True if it ran."""
    if not await redis.set(f"{key}:housekeeping", me, nx=True, ex=every_s):
        return False
    await trim_acknowledged(redis, key)
    await remove_idle_consumers(redis, key, group, keep=me)
    return True
