"""Task event streams: commit → event latency, and what 1,000 open streams cost one API process.

    python -m bench.sse [--streams 1000] [--changes 400] [--idle-seconds 30]

A real `lumi-api` process (one process, relay on). This process opens `--streams` event streams,
each on its own task, and commits changes to those tasks as a worker does (under the request's
lock, `updated_at` bumped, the change announced after the commit by `TaskChanges`). Measured:
- latency: from the moment the commit returned to the moment the client read the event, for
  `--changes` changes one after another on random tasks, first with 20 streams open, then with
  all of them open;
- a burst: every task changed at once (one transaction per task, 16 at a time) until the last
  event arrived;
- the API process's resident memory before and with the streams open, and its CPU while they
  sit idle for `--idle-seconds` (heartbeats and re-checks only) with `SSE_HEARTBEAT_SECONDS=5`
  and `SSE_RECHECK_SECONDS=15` (three and one times more often than the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.support.processes import free_port

from bench._api_process import cpu_seconds, start_api
from bench._setup import bench_env, percentile
from lumi_api.auth.service import issue_token
from lumi_common.db.engine import create_sessionmaker
from lumi_common.pipeline.requests import lock_request, touch
from lumi_common.task_changes import TaskChanges
from lumi_common.time import utcnow

Sessions = async_sessionmaker[AsyncSession]
# its warnings and errors go to a log shown if the bench fails
SETTINGS = {"LOG_LEVEL": "WARNING", "SSE_HEARTBEAT_SECONDS": "5", "SSE_RECHECK_SECONDS": "15"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stream:
    """One open event stream; records when each event arrived."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.arrived: asyncio.Queue[float] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while line := await self.response.content.readline():
            if line.startswith(b"data:"):
                self.arrived.put_nowait(time.perf_counter())


async def change(sessions: Sessions, task_id: str) -> float:
    """Commit a change as a worker does; when the commit returned."""
    async with sessions.begin() as session:
        request = await lock_request(session, task_id)
        assert request is not None
        touch(request)
    return time.perf_counter()


async def latencies(sessions: Sessions, streams: dict[str, Stream], count: int) -> list[float]:
    ids, found = list(streams), []
    for _ in range(count):
        task_id = random.choice(ids)
        committed = await change(sessions, task_id)
        arrived = await asyncio.wait_for(streams[task_id].arrived.get(), 10)
        found.append(max(0.0, arrived - committed) * 1000)
        await asyncio.sleep(0.01)
    return found


async def burst(sessions: Sessions, streams: dict[str, Stream]) -> tuple[float, float]:
    """(ms until every change committed, ms until every event arrived)."""
    began = time.perf_counter()
    gate = asyncio.Semaphore(16)

    async def one(task_id: str) -> None:
        async with gate:
            await change(sessions, task_id)

    await asyncio.gather(*(one(task_id) for task_id in streams))
    committed = time.perf_counter()
    await asyncio.gather(*(stream.arrived.get() for stream in streams.values()))
    return (committed - began) * 1000, (time.perf_counter() - began) * 1000


def report(label: str, values: list[float]) -> str:
    return (
        f"  {label:28} n={len(values):<4} p50 {percentile(values, 0.5):6.1f} ms   "
        f"p99 {percentile(values, 0.99):6.1f} ms   max {max(values):6.1f} ms"
    )


async def open_streams(
    http: aiohttp.ClientSession, base: str, task_ids: list[str], streams: dict[str, Stream]
) -> None:
    async def one(task_id: str) -> None:
        response = await http.get(f"{base}/api/tasks/{task_id}/events")
        assert response.status == 200, response.status
        stream = Stream(response)
        await asyncio.wait_for(stream.arrived.get(), 30)  # the current state, first
        streams[task_id] = stream

    gate = asyncio.Semaphore(20)

    async def gated(task_id: str) -> None:
        async with gate:
            await one(task_id)

    await asyncio.gather(*(gated(task_id) for task_id in task_ids))


async def create_tasks(http: aiohttp.ClientSession, base: str, count: int) -> list[str]:
    gate, ids = asyncio.Semaphore(16), []

    async def one() -> None:
        async with gate, http.post(f"{base}/api/tasks", json={"prompt": "a lantern"}) as created:
            assert created.status == 201, await created.text()
            ids.append((await created.json())["data"]["id"])

    await asyncio.gather(*(one() for _ in range(count)))
    return ids


async def main(streams_wanted: int, changes: int, idle_seconds: float) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * streams_wanted)), hard))
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_env(Path(tmp)) as env:
            print(env.header())
            port = free_port()
            log_path = Path(tmp) / "api.log"
            api = await start_api(env, port, SETTINGS, log=log_path)
            engine = env.engine()
            sessions = create_sessionmaker(engine)
            redis = env.redis()
            announcer = TaskChanges(redis, key_prefix=env.key_prefix)
            announcer.attach(sessions)
            try:
                async with sessions.begin() as session:
                    token = await issue_token(
                        session, email="bench-sse@example.com", ttl=timedelta(days=1), now=utcnow()
                    )
                await _run(
                    api.pid, port, token.header, sessions, streams_wanted, changes, idle_seconds
                )
            except BaseException:
                print("".join(log_path.read_text().splitlines(keepends=True)[-30:]))
                raise
            finally:
                api.terminate()
                await api.wait()
                await announcer.aclose()
                await redis.aclose()
                await engine.dispose()


async def _run(
    pid: int,
    port: int,
    token: str,
    sessions: Sessions,
    wanted: int,
    changes: int,
    idle_seconds: float,
) -> None:
    base = f"http://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers={"Authorization": token}
    ) as http:
        task_ids = await create_tasks(http, base, wanted)
        await asyncio.sleep(2)  # the relay's publishing of the creations is over
        rss_before = rss_mb(pid)
        streams: dict[str, Stream] = {}
        await open_streams(http, base, task_ids[:20], streams)
        print(f"\ncommit → event latency ({changes} changes, one at a time)")
        print(report("20 streams open", await latencies(sessions, streams, changes)))
        began = time.perf_counter()
        await open_streams(http, base, task_ids[20:], streams)
        opened = time.perf_counter() - began
        print(report(f"{len(streams)} streams open", await latencies(sessions, streams, changes)))
        committed, delivered = await burst(sessions, streams)
        print(
            f"  burst: all {len(streams)} tasks changed at once (16 transactions at a time): "
            f"committed after {committed:.0f} ms, last event after {delivered:.0f} ms"
        )
        print(
            f"\n{len(streams)} streams opened in {opened:.1f} s (each: connect, auth, "
            f"read the task, first event)"
        )
        await asyncio.sleep(2)
        rss_open = rss_mb(pid)
        cpu0 = cpu_seconds(pid)
        await asyncio.sleep(idle_seconds)
        cpu = (cpu_seconds(pid) - cpu0) / idle_seconds * 100
        print(
            f"  API resident memory: {rss_before:.0f} MB before, {rss_open:.0f} MB with them "
            f"open ({(rss_open - rss_before) * 1024 / len(streams):.0f} KB per stream)"
        )
        print(
            f"  API CPU with them idle for {idle_seconds:.0f} s: {cpu:.1f} % of one core "
            "(heartbeat 5 s, re-check 15 s)"
        )
        for stream in streams.values():
            stream.reader.cancel()
            stream.response.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=400)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()
    asyncio.run(main(args.streams, args.changes, args.idle_seconds))
