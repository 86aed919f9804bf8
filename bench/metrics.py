"""What the Prometheus metrics cost, piece by piece, in this process (single-process mode):

    .venv/bin/python -m bench.metrics [--iterations 200000] [--scrapes 200]

- a request: what the API's middleware records per request (its cached series: one counter
  increment, one histogram observation);
- a job: what the runtime records per job (claimed, ran, completed);
- a scrape of the API: the stream gauges of every job stream (one pipeline per stream against
  real Redis, the streams and groups made first), the outbox gauges (one query on the real
  database) and the rendering of every series, with the cache off (each scrape reads).
`bench.api --compare-metrics` measures the whole API with metrics on and off.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench._setup import bench_env
from lumi_common.db.engine import create_sessionmaker
from lumi_common.metrics.exposition import Exposition
from lumi_common.metrics.jobs import JobMetrics
from lumi_common.metrics.outbox import OutboxStats
from lumi_common.metrics.series import HTTP_REQUEST_DURATION, HTTP_REQUESTS
from lumi_common.metrics.streams import StreamStats
from lumi_common.streams.names import JOB_STREAMS, group_name, stream_key


def per_request(iterations: int) -> float:
    count = HTTP_REQUESTS.labels("POST", "/api/tasks", "201")
    duration = HTTP_REQUEST_DURATION.labels("POST", "/api/tasks")
    started = time.perf_counter()
    for _ in range(iterations):
        count.inc()
        duration.observe(0.012)
    return (time.perf_counter() - started) / iterations


def per_job(iterations: int) -> float:
    metrics = JobMetrics(stream="image-jobs", provider="bench")
    started = time.perf_counter()
    for _ in range(iterations):
        metrics.claimed()
        metrics.ran(0.5)
        metrics.completed()
    return (time.perf_counter() - started) / iterations


async def per_scrape(scrapes: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_env(Path(tmp)) as env:
            redis, engine = env.redis(), env.engine()
            try:
                for stream in JOB_STREAMS:
                    key = stream_key(env.key_prefix, stream)
                    await redis.xgroup_create(key, group_name(stream), id="0", mkstream=True)
                    await redis.xadd(key, {"data": b"{}"})
                exposition = Exposition(
                    [
                        StreamStats(
                            redis, key_prefix=env.key_prefix, streams=JOB_STREAMS, max_age=0
                        ),
                        OutboxStats(create_sessionmaker(engine), max_age=0),
                    ]
                )
                size = len(await exposition.render())
                started = time.perf_counter()
                for _ in range(scrapes):
                    await exposition.render()
                return (time.perf_counter() - started) / scrapes, size
            finally:
                await redis.aclose()
                await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    print(f"per request: {per_request(args.iterations) * 1e6:.2f} µs (count + latency)")
    print(f"per job: {per_job(args.iterations) * 1e6:.2f} µs (claimed + ran + completed)")
    seconds, size = asyncio.run(per_scrape(args.scrapes))
    print(f"per API scrape: {seconds * 1000:.2f} ms ({size} bytes; 3 streams, outbox, render)")


if __name__ == "__main__":
    main()
