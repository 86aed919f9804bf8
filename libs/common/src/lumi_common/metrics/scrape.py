"""Gauges read from Redis or the database when Prometheus scrapes, not on every request.

`collect()` of a prometheus_client collector is synchronous, so the scrape handler first awaits
`refresh()` of each such collector, which reads its source at most once per `max_age` seconds
(several Prometheus replicas scraping together cost one read), and then renders; `collect()`
yields what the last refresh read. A source that cannot be read leaves its series out of that
scrape (Prometheus then shows them absent) instead of failing the whole scrape.
"""

from __future__ import annotations

import asyncio
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable

import structlog
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

log = structlog.get_logger(__name__)

# long enough to absorb concurrent scrapes, well under any scrape interval
SCRAPE_CACHE_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0


class ScrapeCollector(Collector, ABC):
    source: str  # for the log line when it cannot be read

    def __init__(self, *, max_age: float = SCRAPE_CACHE_SECONDS) -> None:
        self.max_age = max_age
        self._families: list[Metric] = []
        self._read_at = -math.inf
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._read_at < self.max_age:
                return
            try:
                self._families = await asyncio.wait_for(self.read(), READ_TIMEOUT_SECONDS)
            except (TimeoutError, OSError, RedisError, SQLAlchemyError) as exc:
                log.warning("metrics.source.unreadable", source=self.source, error=repr(exc))
                self._families = []
            self._read_at = time.monotonic()

    @abstractmethod
    async def read(self) -> list[Metric]:
        """The metric families as they are now."""

    def collect(self) -> Iterable[Metric]:
        return list(self._families)

    def describe(self) -> Iterable[Metric]:
        return []  # the registry must not call collect() (it would see an empty cache)
