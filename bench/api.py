"""API benchmark: the real `lumi-api` process (relay on, no workers) under an HTTP load, against
the same create transaction written with aiomysql directly.

    python -m bench.api [--seconds 10] [--concurrency 16,64] [--api-processes 1,2]

Cases, each at every concurrency, each bounded in time:
- `POST /api/tasks`: a signed-in user creates tasks (the request, 4 images, 4 image jobs and
  4 outbox rows in one transaction; the relay publishes them to Redis meanwhile);
- `GET /api/gallery/models?sortBy=latest&limit=20&offset=0`: the web home page, signed in,
  over ~200 published models, served from the page cache after the first request;
- raw driver: the create transaction alone (one multi-row INSERT per table, then COMMIT) with
  aiomysql, no HTTP, no ORM: what the database itself allows at that concurrency; once with
  aiomysql as shipped (the issue's baseline) and once with the connection class the API uses
  (`lumi_common.db.mysql_escape`: PyMySQL's escaping done with C-speed string calls), so the
  API can be compared with both.
The API cases run once per `--api-processes` value (`API_PROCESSES`: 1 process, then 2 on one
port), each its own labelled configuration; the CPU per request adds up all API processes. With
`--compare-metrics` each of them runs twice, `METRICS_ENABLED=true` and `false`, measured in the
same interleaved rounds: what the Prometheus metrics cost.
The load comes from `wrk` (one thread) when it is installed, else from `python -m bench.api
load …`, a separate process: an aiohttp client with one connection per concurrent caller.
The API logs at INFO (its access log on), as deployed; the rate limiter is on with a limit no
caller reaches, so its Redis round trip is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiomysql
import orjson
from sqlalchemy.engine import make_url
from tests.support.gallery import published_models
from tests.support.processes import free_port

from bench._api_process import cpu_seconds, start_api
from bench._setup import BenchEnv, bench_env, percentile
from lumi_api.auth.service import issue_token
from lumi_common.db import mysql_escape
from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.ids import new_id
from lumi_common.settings import DatabaseSettings
from lumi_common.time import utcnow

GALLERY = "/api/gallery/models?sortBy=latest&limit=20&offset=0"
PROMPT = "一只戴帽子的小猫"
SEEDED_MODELS = 200


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float = 0.0  # the API process's CPU time per request (user + system)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


# -- the load generator (its own process) --------------------------------------------------------


async def load(
    url: str, *, method: str, body: bytes | None, token: str, concurrency: int, seconds: float
) -> Result:
    """`concurrency` callers, each sending its next request as soon as the last one answered."""
    headers = {"Authorization": token, "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        # one request first: the gallery page is then cached, the connections open
        async with session.request(method, url, data=body) as first:
            await first.read()
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            nonlocal errors
            while (started := time.perf_counter()) < deadline:
                async with session.request(method, url, data=body) as response:
                    await response.read()
                    if response.status >= 300:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return _result(latencies, errors, elapsed)


def _result(latencies: list[float], errors: int, elapsed: float) -> Result:
    return Result(
        requests=len(latencies),
        errors=errors,
        seconds=elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
    )


async def run_load(
    api: asyncio.subprocess.Process,
    base: str,
    path: str,
    *,
    method: str,
    body: Any,
    token: str,
    concurrency: int,
    seconds: float,
    generator: str,
) -> Result:
    cpu_before = cpu_seconds(api.pid)
    if generator == "wrk":
        result = await wrk_load(
            f"{base}{path}",
            method=method,
            body=body,
            token=token,
            concurrency=concurrency,
            seconds=seconds,
        )
        cpu = (cpu_seconds(api.pid) - cpu_before) * 1000 / max(result.requests, 1)
        return dataclasses.replace(result, cpu_ms=cpu)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.api",
        "load",
        f"--url={base}{path}",
        f"--method={method}",
        f"--body={json.dumps(body) if body is not None else ''}",
        f"--token={token}",
        f"--concurrency={concurrency}",
        f"--seconds={seconds}",
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the load generator failed ({process.returncode})")
    result = Result(**json.loads(output))
    cpu = (cpu_seconds(api.pid) - cpu_before) * 1000 / max(result.requests, 1)
    return dataclasses.replace(result, cpu_ms=cpu)


# wrk (C, one thread) costs the shared cores far less per request than the Python generator; its
# script sets the request and prints the figures as one JSON line (latencies in microseconds)
WRK_SCRIPT = """
wrk.method = %(method)s
wrk.body = %(body)s
wrk.headers["Authorization"] = %(token)s
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "errors": %%d, "seconds": %%f, "p50_ms": %%f, "p99_ms": %%f}\\n',
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


async def wrk_load(
    url: str, *, method: str, body: Any, token: str, concurrency: int, seconds: float
) -> Result:
    async with aiohttp.ClientSession() as session:  # warm up: the page cached, as for Python
        headers = {"Authorization": token}
        async with session.request(method, url, json=body, headers=headers) as first:
            await first.read()
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(
            WRK_SCRIPT
            % {
                "method": lua_string(method),
                "body": lua_string(json.dumps(body)) if body is not None else "nil",
                "token": lua_string(token),
            }
        )
        script.flush()
        process = await asyncio.create_subprocess_exec(
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds:g}s",
            "--timeout=10s",
            "-s",
            script.name,
            url,
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"wrk failed ({process.returncode})")
    return Result(**json.loads(output.decode().strip().splitlines()[-1]))


# -- the raw-driver baseline ---------------------------------------------------------------------

INSERT_REQUEST = (
    "INSERT INTO generation_requests (id, user_id, original_prompt, status, phase, trace_id, "
    "created_at, updated_at) VALUES (%s, %s, %s, 'IMAGE_PENDING', 'IMAGE_GENERATION', %s, %s, %s)"
)
INSERT_IMAGES = (
    "INSERT INTO generated_images (id, request_id, image_index, image_prompt, status, "
    "created_at, updated_at) VALUES (%s, %s, %s, %s, 'PENDING', %s, %s)"
)
INSERT_JOBS = (
    "INSERT INTO image_jobs (id, image_id, request_id, status, attempt, created_at, updated_at) "
    "VALUES (%s, %s, %s, 'QUEUED', 0, %s, %s)"
)
INSERT_OUTBOX = (
    "INSERT INTO outbox (id, stream, `key`, payload, available_at, attempts, created_at) "
    "VALUES (%s, 'image-jobs', %s, %s, %s, 0, %s)"
)


async def create_raw(conn: aiomysql.Connection, user_id: str) -> None:
    """The create transaction: the request, 4 images, 4 jobs, 4 outbox rows, then COMMIT
    (PyMySQL's executemany sends each table's rows as one multi-row INSERT)."""
    now, request_id, trace_id = utcnow().replace(tzinfo=None), new_id(), new_id()
    images = [(new_id(), request_id, index, f"{PROMPT} {index}", now, now) for index in range(4)]
    jobs = [(new_id(), image[0], request_id, now, now) for image in images]
    events = [
        (
            new_id(),
            job[0],
            orjson.dumps(
                {
                    "v": 1,
                    "event_id": new_id(),
                    "job_id": job[0],
                    "request_id": request_id,
                    "attempt": 0,
                    "trace_id": trace_id,
                    "image_index": index,
                    "prompt": PROMPT,
                }
            ).decode(),
            now,
            now,
        )
        for index, job in enumerate(jobs)
    ]
    async with conn.cursor() as cursor:
        await cursor.execute(INSERT_REQUEST, (request_id, user_id, PROMPT, trace_id, now, now))
        await cursor.executemany(INSERT_IMAGES, images)
        await cursor.executemany(INSERT_JOBS, jobs)
        await cursor.executemany(INSERT_OUTBOX, events)
        await conn.commit()


async def raw_baseline(
    env: BenchEnv, user_id: str, *, concurrency: int, seconds: float, escaping: str = "stock"
) -> Result:
    """`concurrency` callers, each on its own connection. `escaping`: "stock" is aiomysql as
    shipped (PyMySQL escapes parameters in Python); "ours" is the API's own connection class
    (`lumi_common.db.mysql_escape`), so the baseline can be compared on equal terms too."""
    url = make_url(env.database_url)
    connect = mysql_escape.connect if escaping == "ours" else aiomysql.connect
    connections = [
        await connect(
            host=url.host or "127.0.0.1",
            port=url.port or 3306,
            user=url.username or "root",
            password=url.password or "",
            db=url.database,
            autocommit=False,
        )
        for _ in range(concurrency)
    ]
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def caller(conn: aiomysql.Connection) -> None:
        while (started := time.perf_counter()) < deadline:
            await create_raw(conn, user_id)
            latencies.append(time.perf_counter() - started)

    try:
        began, cpu_before = time.perf_counter(), time.process_time()
        await asyncio.gather(*(caller(conn) for conn in connections))
        result = _result(latencies, 0, time.perf_counter() - began)
        cpu = (time.process_time() - cpu_before) * 1000 / max(result.requests, 1)
        return dataclasses.replace(result, cpu_ms=cpu)
    finally:
        for conn in connections:
            conn.close()


# -- the orchestration ---------------------------------------------------------------------------


async def seed(env: BenchEnv) -> tuple[str, str]:
    """A user with a token and ~200 published models in the gallery: (token header, user id)."""
    engine = create_engine(DatabaseSettings(database_url=env.database_url))
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as session:
            issued = await issue_token(
                session, email="bench@example.com", ttl=timedelta(days=1), now=utcnow()
            )
        await published_models(sessionmaker, issued.user_id, SEEDED_MODELS)
        return issued.header, issued.user_id
    finally:
        await engine.dispose()


def row(label: str, concurrency: int, result: Result, note: str = "") -> str:
    cpu = f"{result.cpu_ms:5.2f} ms CPU/req" if result.cpu_ms else " " * 16
    return (
        f"  {label:34} c={concurrency:<3} {result.rate:8.1f}/s   p50 {result.p50_ms:6.1f} ms   "
        f"p99 {result.p99_ms:6.1f} ms   {cpu}   {result.requests:6d} req  {result.errors} err"
        f"  {note}"
    )


def combine(slices: list[Result]) -> Result:
    """One figure from the slices of a case (its rounds): the rate over all of them, the median
    slice's p50, the worst slice's p99, the CPU per request over all requests."""
    requests = sum(part.requests for part in slices)
    return Result(
        requests=requests,
        errors=sum(part.errors for part in slices),
        seconds=sum(part.seconds for part in slices),
        p50_ms=statistics.median(part.p50_ms for part in slices),
        p99_ms=max(part.p99_ms for part in slices),
        cpu_ms=sum(part.cpu_ms * part.requests for part in slices) / max(requests, 1),
    )


@dataclass
class Api:
    """One running API configuration (`API_PROCESSES`)."""

    label: str
    process: asyncio.subprocess.Process
    base: str


async def main(
    seconds: float,
    rounds: int,
    concurrencies: list[int],
    cases: set[str],
    overrides: dict[str, str],
    processes: list[int],
    generator: str,
    compare_metrics: bool = False,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_env(Path(tmp)) as env:
            if not env.database_url.startswith("mysql"):
                raise SystemExit("the API benchmark needs MariaDB (the raw baseline is aiomysql)")
            token, user_id = await seed(env)
            print(
                f"backend: {env.backend} + Redis; cpus: {os.cpu_count()}; {seconds:g} s a case"
                f" in {rounds} interleaved rounds; load generator: {generator}"
            )
            if overrides:
                print(f"API settings: {overrides}")
            apis: list[Api] = []
            try:
                for count, metrics in configurations(processes, compare_metrics):
                    port = free_port()
                    values = {"API_PROCESSES": str(count), "LOG_LEVEL": "INFO"}
                    process = await start_api(env, port, {**values, **overrides, **metrics})
                    label = f"{count} process{'es' if count > 1 else ''}"
                    if metrics:
                        label += (
                            f", metrics {'on' if metrics['METRICS_ENABLED'] == 'true' else 'off'}"
                        )
                    apis.append(Api(label, process, f"http://127.0.0.1:{port}"))
                slices = await measure(
                    apis, env, token, user_id, seconds / rounds, rounds, concurrencies, cases,
                    generator,
                )  # fmt: skip
            finally:
                for api in apis:
                    api.process.terminate()
                    await api.process.wait()
            for c in concurrencies:
                raw = combine(slices[("raw", c)]) if ("raw", c) in slices else None
                for api in apis:
                    if ("create", api.label, c) in slices:
                        create = combine(slices[("create", api.label, c)])
                        share = f"{create.rate / raw.rate:.2f}x raw" if raw else ""
                        print(row(f"POST /api/tasks, {api.label}", c, create, share))
                    if ("gallery", api.label, c) in slices:
                        gallery = combine(slices[("gallery", api.label, c)])
                        print(row(f"GET /api/gallery, {api.label}", c, gallery))
                if raw:
                    print(row("raw aiomysql create", c, raw, "CPU: the bench process"))
                if ("raw-ours", c) in slices:
                    ours = combine(slices[("raw-ours", c)])
                    print(row("raw create, the API's escaping", c, ours))


def configurations(processes: list[int], compare_metrics: bool) -> list[tuple[int, dict[str, str]]]:
    """Each `API_PROCESSES` value, with metrics on and off when they are compared."""
    if not compare_metrics:
        return [(count, {}) for count in processes]
    return [(n, {"METRICS_ENABLED": flag}) for n in processes for flag in ("true", "false")]


async def measure(
    apis: list[Api],
    env: BenchEnv,
    token: str,
    user_id: str,
    seconds: float,
    rounds: int,
    concurrencies: list[int],
    cases: set[str],
    generator: str,
) -> dict[tuple[Any, ...], list[Result]]:
    """Every case in turn, `rounds` times over: the machine's other load (two shared cores)
    then weighs on the API and on the raw baseline alike, so their ratio is a fair one."""
    slices: dict[tuple[Any, ...], list[Result]] = defaultdict(list)
    requests = {
        "create": ("POST", "/api/tasks", {"prompt": PROMPT}),
        "gallery": ("GET", GALLERY, None),
    }
    for _ in range(rounds):
        for c in concurrencies:
            for api in apis:
                for case, (method, path, body) in requests.items():
                    if case in cases:
                        slices[(case, api.label, c)].append(
                            await run_load(
                                api.process,
                                api.base,
                                path,
                                method=method,
                                body=body,
                                token=token,
                                concurrency=c,
                                seconds=seconds,
                                generator=generator,
                            )
                        )
            for case, escaping in (("raw", "stock"), ("raw-ours", "ours")):
                if case in cases:
                    slices[(case, c)].append(
                        await raw_baseline(
                            env, user_id, concurrency=c, seconds=seconds, escaping=escaping
                        )
                    )
    return slices


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command")
    generator = sub.add_parser("load", help="(internal) the load generator process")
    generator.add_argument("--url", required=True)
    generator.add_argument("--method", default="GET")
    generator.add_argument("--body", default="")
    generator.add_argument("--token", required=True)
    generator.add_argument("--concurrency", type=int, required=True)
    generator.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=12.0, help="per case, all rounds")
    parser.add_argument(
        "--rounds", type=int, default=3, help="each case's time split into interleaved rounds"
    )
    parser.add_argument("--concurrency", default="16,64", help="comma-separated")
    parser.add_argument(
        "--cases",
        default="create,gallery,raw,raw-ours",
        help="comma-separated: create, gallery, raw (stock aiomysql), raw-ours (our escaping)",
    )
    parser.add_argument(
        "--api-processes",
        default="1,2",
        help="comma-separated API_PROCESSES values, each measured as its own configuration",
    )
    parser.add_argument(
        "--generator",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="the HTTP load generator: wrk (C; Debian package `wrk`) when installed, else Python",
    )
    parser.add_argument(
        "--api-env", action="append", default=[], help="NAME=value for the API (repeatable)"
    )
    parser.add_argument(
        "--compare-metrics",
        action="store_true",
        help="each API configuration with METRICS_ENABLED=true and =false, interleaved",
    )
    args = parser.parse_args()
    if args.command == "load":
        result = asyncio.run(
            load(
                args.url,
                method=args.method,
                body=args.body.encode() or None,
                token=args.token,
                concurrency=args.concurrency,
                seconds=args.seconds,
            )
        )
        print(json.dumps(result.__dict__))
        return
    started = time.perf_counter()
    overrides = dict(item.split("=", 1) for item in args.api_env)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    processes = [int(count) for count in args.api_processes.split(",")]
    cases = set(args.cases.split(","))
    load_with: str = args.generator
    if load_with == "auto":
        load_with = "wrk" if shutil.which("wrk") else "python"
    asyncio.run(
        main(
            args.seconds,
            args.rounds,
            concurrencies,
            cases,
            overrides,
            processes,
            load_with,
            compare_metrics=args.compare_metrics,
        )
    )
    print(f"done in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    cli()
