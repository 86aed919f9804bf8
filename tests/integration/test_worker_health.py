"""The worker's health probe: 200 while the consumer's read loop turns, 503 otherwise."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.pipeline.images import ImageJobs
from lumi_common.streams.health import serve_health
from lumi_common.streams.worker import run_worker
from tests.support.handlers import image_handler, record_effects
from tests.support.pipeline import consumer, wait_until
from tests.support.processes import free_port


async def probe(port: int) -> tuple[int, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, await response.json()


async def test_the_probe_answers_200_when_healthy_and_503_when_not() -> None:
    healthy = True
    port = free_port()
    server = await serve_health(port, lambda: healthy)
    try:
        assert await probe(port) == (200, {"status": "ok"})
        healthy = False
        assert await probe(port) == (503, {"status": "unhealthy"})
    finally:
        server.close()
        await server.wait_closed()


async def test_a_running_worker_serves_its_probe_until_stopped(
    sessionmaker: async_sessionmaker[AsyncSession], redis: Redis, key_prefix: str
) -> None:
    kind = ImageJobs(lease=timedelta(seconds=5))
    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=image_handler(sessionmaker, kind),
        on_done=record_effects,
        prefix=key_prefix,
    )
    port = free_port()
    task = asyncio.create_task(
        run_worker(worker, reconciler=None, reconcile_every_s=60, health_port=port)
    )

    async def answers() -> bool:
        try:
            return await probe(port) == (200, {"status": "ok"})
        except aiohttp.ClientConnectionError:
            return False

    await wait_until(answers, within=10)
    worker.stop()
    await asyncio.wait_for(task, 10)
    try:
        await probe(port)
    except aiohttp.ClientConnectionError:
        pass
    else:
        raise AssertionError("the probe still answers after the worker stopped")
