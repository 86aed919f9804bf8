"""`API_PROCESSES=2`: whichever process answers a scrape, `/metrics` counts the requests of both
(prometheus_client's multi-process files, in a directory the supervisor empties at start and
removes at the end)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.metrics import Scrape, parse
from tests.support.services import Services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
REQUESTS = 40
READY_WITHIN_SECONDS = 60
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


async def both_serving(url: str, directory: Path) -> int:
    """Requests until each process has answered one; how many it took. The API is ready once
    either answers: the other may still be starting (not yet listening) on a loaded machine,
    and then the kernel gives every connection to the first."""
    sent = 0
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while not (len(counts := per_process(directory)) == 2 and all(counts.values())):
        assert time.monotonic() < deadline, counts
        assert (await get(url)).status == 200
        sent += 1
    return sent


async def test_two_processes_expose_the_sum_of_their_requests(services: Services) -> None:
    api = await services.start_api(API_PROCESSES="2", METRICS_CACHE_SECONDS="0")
    started = next(e for e in api.events() if e["event"] == "api.processes.started")
    directory = Path(started["metrics_dir"])
    live = f"{services.base_url}/api/health/live"
    sent = await both_serving(live, directory)
    for _ in range(REQUESTS):
        assert (await get(live)).status == 200
    sent += REQUESTS
    scrapes = await asyncio.gather(*(scrape(f"{services.base_url}/metrics") for _ in range(6)))
    for page in scrapes:
        assert page.value("lumi_http_requests_total", **LIVE) == sent
    counts = per_process(directory)
    assert len(counts) == 2, counts
    assert all(counts.values()), counts  # both served some
    assert sum(counts.values()) == sent
    assert api.stop() == 0
    assert not await asyncio.to_thread(directory.exists)
