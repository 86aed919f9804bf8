"""The database pool gauge, sampled rather than counted on every checkout: a scrape reads it in
the process it reaches, and each process of a multi-process API samples its own pool now and
then (`POOL_SAMPLE_SECONDS`), so the scrape's sum over live processes is at most that old."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from lumi_common.metrics.series import DB_POOL_IN_USE

POOL_SAMPLE_SECONDS = 1.0


def sample_pool(engine: AsyncEngine) -> None:
    checked_out = getattr(engine.pool, "checkedout", None)  # SQLite's static pools count none
    DB_POOL_IN_USE.set(checked_out() if callable(checked_out) else 0)


@asynccontextmanager
async def sampling_pool(engine: AsyncEngine) -> AsyncIterator[None]:
    async def sample() -> None:
        while True:
            sample_pool(engine)
            await asyncio.sleep(POOL_SAMPLE_SECONDS)

    task = asyncio.create_task(sample())
    try:
        yield
    finally:
        task.cancel()
