"""Gallery list pages cached in Redis under the gallery's generation (see
`lumi_common.gallery_cache`): a write bumps the generation after its commit, and every cached
page becomes unreachable at once. Redis trouble only costs the cache, never the page.

Pages are kept as the JSON of their `data`, answered as they are (no decode and re-encode),
and each process also keeps the pages it served lately in memory for a few seconds, keyed by
generation: a hot page then costs one Redis round trip (the generation), not two, and a bump
still reaches every process on its next request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from lumi_api.keys import REDIS, SETTINGS
from lumi_common.gallery_cache import bump_gallery, generation_key, page_key
from lumi_common.metrics.series import GALLERY_CACHE_LOOKUPS
from lumi_common.redis_client import RedisClient

# how long a process serves a page from memory; the Redis TTL bounds staleness otherwise
MEMORY_SECONDS = 5.0
MEMORY_PAGES = 256
# the page sizes worth caching: both apps page the gallery 20 at a time (contract G1). With
# GALLERY_CACHE_PAGES pages per order, a generation holds at most
# orders × len(CACHED_LIMITS) × pages keys, whatever callers ask for.
CACHED_LIMITS = frozenset({20})

log = structlog.get_logger(__name__)
HITS, MISSES = GALLERY_CACHE_LOOKUPS.labels("hit"), GALLERY_CACHE_LOOKUPS.labels("miss")


@dataclass(frozen=True, slots=True)
class PageKey:
    sort: str
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class Lookup:
    data: bytes | None  # the page's `data` as JSON
    # the generation the page was looked up under; None when the cache is off or unreachable
    generation: int | None


class RecentPages:
    """The pages this process served lately, by generation and page."""

    def __init__(self, *, seconds: float = MEMORY_SECONDS, size: int = MEMORY_PAGES) -> None:
        self.seconds, self.size = seconds, size
        self._pages: dict[tuple[int, PageKey], tuple[bytes, float]] = {}

    def get(self, generation: int, key: PageKey) -> bytes | None:
        found = self._pages.get((generation, key))
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def put(self, generation: int, key: PageKey, data: bytes) -> None:
        if len(self._pages) >= self.size:  # the oldest first
            del self._pages[next(iter(self._pages))]
        self._pages[(generation, key)] = (data, time.monotonic() + self.seconds)


RECENT_PAGES = web.AppKey("gallery_recent_pages", RecentPages)


class GalleryCache:
    def __init__(
        self,
        redis: RedisClient,
        *,
        prefix: str,
        ttl_seconds: int,
        pages: int,
        recent: RecentPages | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self.pages = pages
        self.recent = recent or RecentPages(seconds=0)

    def caches(self, key: PageKey) -> bool:
        """One of the first `pages` pages at a page size the apps use: the key set is bounded."""
        if self.ttl_seconds <= 0 or key.limit not in CACHED_LIMITS:
            return False
        return key.offset % key.limit == 0 and key.offset // key.limit < self.pages

    async def lookup(self, key: PageKey) -> Lookup:
        if not self.caches(key):
            return Lookup(data=None, generation=None)
        try:
            generation = int(await self.redis.get(generation_key(self.prefix)) or 0)
            if (data := self.recent.get(generation, key)) is not None:
                HITS.inc()
                return Lookup(data=data, generation=generation)
            raw = await self.redis.get(self._page_key(generation, key))
        except RedisError as exc:
            log.warning("gallery.cache.read_failed", error=repr(exc))
            MISSES.inc()
            return Lookup(data=None, generation=None)
        if isinstance(raw, str):  # a client made with decode_responses
            raw = raw.encode()
        if raw is not None:
            self.recent.put(generation, key, raw)
        (MISSES if raw is None else HITS).inc()
        return Lookup(data=raw, generation=generation)

    async def store(self, lookup: Lookup, key: PageKey, data: bytes) -> None:
        """Under the generation read *before* the page was queried: if a write bumped it in
        between, this page is stored where nobody looks any more."""
        if lookup.generation is None:
            return
        try:
            await self.redis.set(self._page_key(lookup.generation, key), data, ex=self.ttl_seconds)
        except RedisError as exc:
            log.warning("gallery.cache.write_failed", error=repr(exc))

    async def bump(self) -> None:
        await bump_gallery(self.redis, self.prefix)

    def _page_key(self, generation: int, key: PageKey) -> str:
        return page_key(self.prefix, generation, sort=key.sort, limit=key.limit, offset=key.offset)


def setup_cache(app: web.Application) -> None:
    seconds = min(MEMORY_SECONDS, app[SETTINGS].gallery_cache_seconds)
    app[RECENT_PAGES] = RecentPages(seconds=seconds)


def gallery_cache(app: web.Application) -> GalleryCache:
    settings = app[SETTINGS]
    return GalleryCache(
        app[REDIS],
        prefix=settings.redis_key_prefix,
        ttl_seconds=settings.gallery_cache_seconds,
        pages=settings.gallery_cache_pages,
        recent=app.get(RECENT_PAGES),
    )
