"""The gallery's cache generation, shared by the API (which caches list pages) and the model worker
(which publishes completed models and cannot import the API).

Cached pages are keyed by the current generation; bumping it after a commit that changes what
the lists show makes every cached page unreachable at once (they expire on their own TTL).
"""

from __future__ import annotations

import structlog
from redis.exceptions import RedisError

from lumi_common.redis_client import RedisClient

log = structlog.get_logger(__name__)


def generation_key(prefix: str) -> str:
    return f"{prefix}:gallery:generation"


def page_key(prefix: str, generation: int, *, sort: str, limit: int, offset: int) -> str:
    return f"{prefix}:gallery:page:{generation}:{sort}:{limit}:{offset}"


async def bump_gallery(redis: RedisClient, prefix: str) -> None:
    """Call after the commit. A failure is logged, not raised: the change is committed, and the
    cache's TTL bounds how long a stale page can be served."""
    try:
        await redis.incr(generation_key(prefix))
    except RedisError as exc:
        log.warning("gallery.cache.bump_failed", error=repr(exc))
