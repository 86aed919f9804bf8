"""Gallery list pages cached in Redis under the gallery's generation (see
`lumi_common.gallery_cache`): a write bumps the generation after its commit, and every cached
page becomes unreachable at once. Redis trouble only costs the cache, never the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from lumi_api.keys import REDIS, SETTINGS
from lumi_common import jsonx
from lumi_common.gallery_cache import bump_gallery, generation_key, page_key

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PageKey:
    sort: str
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class Lookup:
    page: Any | None
    # the generation the page was looked up under; None when the cache is off or unreachable
    generation: int | None


class GalleryCache:
    def __init__(self, redis: Redis, *, prefix: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds

    async def lookup(self, key: PageKey) -> Lookup:
        if self.ttl_seconds <= 0:
            return Lookup(page=None, generation=None)
        try:
            generation = int(await self.redis.get(generation_key(self.prefix)) or 0)
            raw = await self.redis.get(self._page_key(generation, key))
        except RedisError as exc:
            log.warning("gallery.cache.read_failed", error=repr(exc))
            return Lookup(page=None, generation=None)
        return Lookup(page=None if raw is None else jsonx.loads(raw), generation=generation)

    async def store(self, lookup: Lookup, key: PageKey, page: Any) -> None:
        """Under the generation read *before* the page was queried: if a write bumped it in
        between, this page is stored where nobody looks any more."""
        if lookup.generation is None:
            return
        try:
            await self.redis.set(
                self._page_key(lookup.generation, key), jsonx.dumps(page), ex=self.ttl_seconds
            )
        except RedisError as exc:
            log.warning("gallery.cache.write_failed", error=repr(exc))

    async def bump(self) -> None:
        await bump_gallery(self.redis, self.prefix)

    def _page_key(self, generation: int, key: PageKey) -> str:
        return page_key(self.prefix, generation, sort=key.sort, limit=key.limit, offset=key.offset)


def gallery_cache(app: web.Application) -> GalleryCache:
    settings = app[SETTINGS]
    return GalleryCache(
        app[REDIS], prefix=settings.redis_key_prefix, ttl_seconds=settings.gallery_cache_seconds
    )
