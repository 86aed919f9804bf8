"""Outbox relay: commit-to-stream latency at a steady event rate, and the most events per second
one relay publishes.

    .venv/bin/python -m bench.relay [--rate 500] [--seconds 10] [--coalesce-ms 5] [--backlog 20000]

Latency: producers commit one outbox row per transaction at `--rate` events/s and wake the relay
after each commit, as the API does; producers and relay share one process and event loop, as the
API and its relay do. An event's arrival is the time Redis stamped on its entry id at XADD.
Throughput: `--backlog` rows committed up front, then the time one relay takes to publish them.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench._setup import BenchEnv, bench_env, percentile
from lumi_common.db.engine import create_sessionmaker
from lumi_common.db.tables import OutboxEvent
from lumi_common.ids import new_id
from lumi_common.logging import configure_logging
from lumi_common.messages import ImageJobRequested, encode
from lumi_common.outbox.relay import Relay, RelayConfig
from lumi_common.outbox.signal import OutboxSignal
from lumi_common.outbox.writer import add_event
from lumi_common.settings import LogSettings
from lumi_common.streams.names import IMAGE_JOBS, stream_key
from lumi_common.time import utcnow

PRODUCERS = 8
Sessions = async_sessionmaker[AsyncSession]


class CountingRelay(Relay):
    """A relay that counts its publish cycles (one claim transaction each)."""

    cycles = 0

    async def publish_due(self) -> int:
        self.cycles += 1
        return await super().publish_due()


def message() -> ImageJobRequested:
    return ImageJobRequested(job_id=new_id(), request_id=new_id())


async def produce(
    sessionmaker: Sessions,
    signal: OutboxSignal,
    committed: dict[str, float],
    *,
    rate: float,
    n: int,
) -> None:
    start = time.perf_counter()
    for i in range(n):
        wait = start + i / rate - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        async with sessionmaker.begin() as session:
            event = add_event(session, stream=IMAGE_JOBS, key=new_id(), message=message())
        committed[event.id] = time.time()  # the clock Redis stamps entry ids with (same host)
        signal.wake()


async def stream_times(env: BenchEnv) -> dict[str, float]:
    """When each event entered the stream: the millisecond time in its entry id (XADD's clock)."""
    async with env.redis() as redis:
        entries: Any = await redis.xrange(stream_key(env.key_prefix, IMAGE_JOBS))
    return {
        fields[b"event"].decode(): int(entry_id.split(b"-")[0]) / 1000
        for entry_id, fields in entries
    }


async def latency(env: BenchEnv, *, rate: float, seconds: float, coalesce_ms: float) -> None:
    engine = env.engine(pool_size=PRODUCERS + 4)
    sessionmaker = create_sessionmaker(engine)
    signal, stop = OutboxSignal(), asyncio.Event()
    committed: dict[str, float] = {}
    per_producer = int(rate * seconds / PRODUCERS)
    async with env.redis() as redis:
        config = RelayConfig(key_prefix=env.key_prefix, coalesce_seconds=coalesce_ms / 1000)
        relay = CountingRelay(sessionmaker, redis, config, signal)
        cpu_before = time.process_time()
        relaying = asyncio.create_task(relay.run(stop))
        started = time.perf_counter()
        await asyncio.gather(
            *(
                produce(sessionmaker, signal, committed, rate=rate / PRODUCERS, n=per_producer)
                for _ in range(PRODUCERS)
            )
        )
        produced_in = time.perf_counter() - started
        while await relay.publish_due():
            pass
        stop.set()
        await relaying
        cpu = time.process_time() - cpu_before
    await engine.dispose()
    arrived = await stream_times(env)
    # entry ids have millisecond resolution: a figure below 1 ms reads as 0 or 1
    delays = [(arrived[event] - at) * 1000 for event, at in committed.items() if event in arrived]
    print(
        f"relay latency at {rate:.0f} events/s target ({len(committed) / produced_in:.0f} achieved,"
        f" {len(committed)} events in {produced_in:.1f} s): commit→stream"
        f" p50 {percentile(delays, 0.5):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms,"
        f" max {max(delays):.1f} ms; {len(committed) - len(delays)} not seen;"
        f" coalesce {coalesce_ms:g} ms: {len(committed) / relay.cycles:.1f} events per cycle,"
        f" process CPU {cpu * 1000 / len(committed):.2f} ms per event (producers + relay)",
        flush=True,
    )


async def throughput(env: BenchEnv, *, backlog: int, batch_size: int) -> None:
    engine = env.engine()
    sessionmaker = create_sessionmaker(engine)
    now = utcnow()
    payload = encode(message()).decode()
    rows = [
        {"id": new_id(), "stream": IMAGE_JOBS, "key": new_id(), "payload": payload}
        | {"available_at": now, "created_at": now}
        for _ in range(backlog)
    ]
    for first in range(0, backlog, 1000):
        async with sessionmaker.begin() as session:
            await session.execute(insert(OutboxEvent), rows[first : first + 1000])
    async with env.redis() as redis:
        config = RelayConfig(key_prefix=f"{env.key_prefix}-t{batch_size}", batch_size=batch_size)
        relay = Relay(sessionmaker, redis, config)
        started = time.perf_counter()
        published = 0
        while batch := await relay.publish_due():
            published += batch
        elapsed = time.perf_counter() - started
        await redis.delete(stream_key(config.key_prefix, IMAGE_JOBS))
    await engine.dispose()
    print(
        f"relay throughput, batch {batch_size}: {published} events in {elapsed:.2f} s ="
        f" {published / elapsed:,.0f} events/s",
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    # what a deployment logs (INFO), not a debug line per published batch
    configure_logging(LogSettings(log_level="INFO", log_format="json"), service="bench")
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_env(Path(tmp)) as env:
            print(env.header(), flush=True)
            for coalesce_ms in args.coalesce_ms:
                await latency(env, rate=args.rate, seconds=args.seconds, coalesce_ms=coalesce_ms)
            for batch_size in args.batch:
                await throughput(env, backlog=args.backlog, batch_size=batch_size)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.relay")
    parser.add_argument("--rate", type=float, default=500.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--coalesce-ms",
        type=float,
        nargs="+",
        default=[RelayConfig(key_prefix="").coalesce_seconds * 1000],
        help="RELAY_COALESCE_SECONDS in ms, one latency run each",
    )
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[200, 1000])
    asyncio.run(main(parser.parse_args()))
