"""`API_PROCESSES=2`: whichever process answers a scrape, `/metrics` counts the requests of both
(prometheus_client's multi-process files, in a directory the supervisor empties at start and
removes at the end)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.metrics import Scrape, parse
from tests.support.services import Services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
BURST = 10
MAX_REQUESTS = 1000  # both processes serve well before: the kernel spreads connections evenly
LIVE = {"method": "GET", "route": "/api/health/live", "status": "200"}


async def get(url: str) -> aiohttp.ClientResponse:
    # a connection each: the kernel spreads new connections over both processes
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        await response.read()
        return response


async def scrape(url: str) -> Scrape:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return parse(await response.text())


def per_process(directory: Path) -> dict[str, float]:
    """Each process's own count of the requests, read from its file alone."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        merged = MultiProcessCollector.merge([str(path)], accumulate=True)  # type: ignore[no-untyped-call]  # untyped upstream
        counts[path.stem] = sum(
            sample.value
            for family in merged
            for sample in family.samples
            if sample.name == "lumi_http_requests_total" and LIVE.items() <= sample.labels.items()
        )
    return counts


def both_served(counts: dict[str, float]) -> bool:
    return len(counts) == 2 and all(counts.values())


async def test_two_processes_expose_the_sum_of_their_requests(services: Services) -> None:
    api = await services.start_api(API_PROCESSES="2", METRICS_CACHE_SECONDS="0")
    started = next(e for e in api.events() if e["event"] == "api.processes.started")
    directory = Path(started["metrics_dir"])
    sent = 0
    # until each process has served some: right after start one may not be listening yet
    while not both_served(counts := per_process(directory)):
        assert sent < MAX_REQUESTS, counts
        for _ in range(BURST):
            assert (await get(f"{services.base_url}/api/health/live")).status == 200
        sent += BURST
    scrapes = await asyncio.gather(*(scrape(f"{services.base_url}/metrics") for _ in range(6)))
    for page in scrapes:
        assert page.value("lumi_http_requests_total", **LIVE) == sent
    assert sum(counts.values()) == sent
    assert api.stop() == 0
    assert not await asyncio.to_thread(directory.exists)
