"""`API_PROCESSES=2`: two API processes on one port under one supervising parent, each with its
own relay; they stop together, and a process dying takes the set down rather than leaving the
host at half its capacity unnoticed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from lumi_common.streams.names import IMAGE_JOBS, stream_key
from tests.support.api import unique_email
from tests.support.services import Service, Services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
TASKS = 12


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def wait_until_gone(pids: list[int], *, within: float) -> None:
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {[p for p in pids if alive(p)]}"
        await asyncio.sleep(0.1)


async def start_two(services: Services) -> tuple[Service, list[int]]:
    """The parent, and its two API processes once both relays run (both are serving then)."""
    api = await services.start_api(API_PROCESSES="2")
    for _ in range(100):
        if sum(event["event"] == "relay.started" for event in api.events()) == 2:
            break
        await asyncio.sleep(0.1)
    started = [event for event in api.events() if event["event"] == "api.processes.started"]
    pids: list[int] = started[0]["pids"]
    assert len(pids) == 2
    assert all(alive(pid) for pid in pids)
    return api, pids


async def test_two_processes_serve_one_port_publish_and_stop_together(
    services: Services, redis: Redis, key_prefix: str
) -> None:
    api, pids = await start_two(services)
    token = await services.token(unique_email("processes"))
    for _ in range(TASKS):  # a connection each: the kernel spreads them over both processes
        async with (
            aiohttp.ClientSession(headers={"Authorization": token}) as session,
            session.post(f"{services.base_url}/api/tasks", json={"prompt": "a kite"}) as response,
        ):
            assert response.status == 201
    key = stream_key(key_prefix, IMAGE_JOBS)
    for _ in range(100):
        if await redis.xlen(key) >= 4 * TASKS:
            break
        await asyncio.sleep(0.05)
    assert await redis.xlen(key) == 4 * TASKS  # every event published once by the two relays
    assert api.stop() == 0
    await wait_until_gone(pids, within=5)


async def test_a_process_that_dies_stops_the_others_and_the_parent_fails(
    services: Services,
) -> None:
    api, pids = await start_two(services)
    os.kill(pids[0], signal.SIGKILL)
    assert api.process is not None
    code = await asyncio.to_thread(api.process.wait, 20)
    assert code != 0
    await wait_until_gone(pids, within=5)
    assert any(event["event"] == "api.process.exited" for event in api.events())


async def test_processes_stop_when_their_parent_is_killed(services: Services) -> None:
    api, pids = await start_two(services)
    api.kill()  # SIGKILL: the parent cannot pass anything on
    await wait_until_gone(pids, within=10)
