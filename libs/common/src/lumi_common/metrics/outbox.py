"""Per-scrape gauges of the outbox: how many events are due and not yet published, and how long
the oldest of them has waited. Both stay near zero while a relay keeps up; a growing age means
no relay is publishing (Redis down, every relay stopped)."""

from __future__ import annotations

from typing import cast

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import OutboxEvent
from lumi_common.metrics.scrape import SCRAPE_CACHE_SECONDS, ScrapeCollector
from lumi_common.time import utcnow

_OUTBOX = cast(Table, OutboxEvent.__table__)
# served by the relay's own index (published_at, available_at)
_DUE = select(func.count(), func.min(_OUTBOX.c.available_at)).where(
    _OUTBOX.c.published_at.is_(None),
    _OUTBOX.c.available_at <= bindparam("now", type_=_OUTBOX.c.available_at.type),
)


class OutboxStats(ScrapeCollector):
    source = "outbox"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        max_age: float = SCRAPE_CACHE_SECONDS,
    ) -> None:
        super().__init__(max_age=max_age)
        self.sessionmaker = sessionmaker

    async def read(self) -> list[Metric]:
        now = utcnow()
        async with self.sessionmaker() as session:
            count, oldest = (await session.execute(_DUE, {"now": now})).one()
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        return [
            GaugeMetricFamily(
                "lumi_outbox_due_rows", "Outbox events due and not yet published", value=count
            ),
            GaugeMetricFamily(
                "lumi_outbox_oldest_due_age_seconds",
                "How long the oldest due, unpublished outbox event has waited (0 when none)",
                value=max(0.0, age),
            ),
        ]
