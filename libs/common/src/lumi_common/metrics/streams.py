"""Per-scrape gauges of job streams and their consumer groups: length, pending, lag, consumers
(registered and active) and the length of each stream's dead-letter stream.

One non-transactional pipeline per stream: a stream, its groups and its DLQ share a hash slot
(`lumi_common.streams.names`), so on a Redis Cluster each pipeline goes to one node.

A group's lag is Redis's own (XINFO GROUPS) while Redis can tell it. After an XDEL past the
group's last delivered entry Redis reports none; the gauge then counts the entries after that id
with one XRANGE, at most `LAG_COUNT_LIMIT` (a lower bound past it), rather than vanish from
alerts and dashboards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from redis.exceptions import ResponseError

from lumi_common.metrics.scrape import SCRAPE_CACHE_SECONDS, ScrapeCollector
from lumi_common.redis_client import RedisClient
from lumi_common.streams.names import dlq_name, stream_key

# a consumer that has not read for this long is counted as registered but not active: a live
# consumer reads at least every block interval (seconds), a dead one stays registered until
# housekeeping removes it once its pending entries are gone
ACTIVE_CONSUMER_IDLE_SECONDS = 60.0
# the most entries one scrape reads to count a lag Redis cannot tell: far above any alert or
# scaling threshold, and a bounded read (entries carry their payloads)
LAG_COUNT_LIMIT = 1000

Group = Mapping[str, Any]


class StreamStats(ScrapeCollector):
    source = "streams"

    def __init__(
        self,
        redis: RedisClient,
        *,
        key_prefix: str,
        streams: Sequence[str],
        max_age: float = SCRAPE_CACHE_SECONDS,
        lag_count_limit: int = LAG_COUNT_LIMIT,
    ) -> None:
        super().__init__(max_age=max_age)
        self.redis, self.key_prefix, self.streams = redis, key_prefix, tuple(streams)
        self.lag_count_limit = lag_count_limit

    async def read(self) -> list[Metric]:
        families = _Families()
        for stream, (length, dead, groups) in zip(
            self.streams, await asyncio.gather(*map(self._read_stream, self.streams)), strict=True
        ):
            families.length.add_metric([stream], length)
            families.dead_letters.add_metric([stream], dead)
            for group, consumers in groups:
                families.add_group(stream, group, consumers)
        return families.all()

    async def _read_stream(self, stream: str) -> tuple[int, int, list[tuple[Group, list[Any]]]]:
        key = stream_key(self.key_prefix, stream)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(key)
            pipe.xlen(stream_key(self.key_prefix, dlq_name(stream)))
            pipe.xinfo_groups(key)
            length, dead, groups = await pipe.execute(raise_on_error=False)
        if isinstance(groups, ResponseError):  # no such stream yet: no groups
            groups = []
        elif isinstance(groups, Exception):
            raise groups
        return int(length), int(dead), await self._detail(key, groups) if groups else []

    async def _detail(self, key: str, groups: list[Group]) -> list[tuple[Group, list[Any]]]:
        """Each group with its consumers, and its lag counted when Redis reported none."""
        uncounted = [group for group in groups if group.get("lag") is None]
        async with self.redis.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.xinfo_consumers(key, group["name"])
            for group in uncounted:
                after = "(" + _text(group["last-delivered-id"])  # exclusive (Redis 6.2+)
                pipe.xrange(key, min=after, max="+", count=self.lag_count_limit)
            replies = await pipe.execute()
        consumers, undelivered = replies[: len(groups)], iter(replies[len(groups) :])
        groups = [
            group if group.get("lag") is not None else {**group, "lag": len(next(undelivered))}
            for group in groups
        ]
        return list(zip(groups, consumers, strict=True))


class _Families:
    def __init__(self) -> None:
        by_group = ["stream", "group"]
        self.length = GaugeMetricFamily(
            "lumi_stream_length", "Entries in the stream", labels=["stream"]
        )
        self.dead_letters = GaugeMetricFamily(
            "lumi_stream_dead_letters",
            "Entries in the stream's dead-letter stream",
            labels=["stream"],
        )
        self.pending = GaugeMetricFamily(
            "lumi_stream_group_pending",
            "Entries delivered to the group's consumers and not yet acknowledged",
            labels=by_group,
        )
        self.lag = GaugeMetricFamily(
            "lumi_stream_group_lag",
            "Entries not yet delivered to the group (counted up to "
            f"{LAG_COUNT_LIMIT} after its last delivered id when Redis cannot tell)",
            labels=by_group,
        )
        self.consumers = GaugeMetricFamily(
            "lumi_stream_group_consumers", "Consumers registered in the group", labels=by_group
        )
        self.active = GaugeMetricFamily(
            "lumi_stream_group_consumers_active",
            f"Consumers that read within the last {ACTIVE_CONSUMER_IDLE_SECONDS:g} seconds",
            labels=by_group,
        )

    def add_group(self, stream: str, group: Mapping[str, Any], consumers: list[Any]) -> None:
        labels = [stream, _text(group["name"])]
        self.pending.add_metric(labels, int(group["pending"]))
        self.lag.add_metric(labels, int(group["lag"]))
        self.consumers.add_metric(labels, int(group["consumers"]))
        idle_ms = ACTIVE_CONSUMER_IDLE_SECONDS * 1000
        self.active.add_metric(labels, sum(1 for c in consumers if int(c["idle"]) < idle_ms))

    def all(self) -> list[Metric]:
        return [
            self.length,
            self.dead_letters,
            self.pending,
            self.lag,
            self.consumers,
            self.active,
        ]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
