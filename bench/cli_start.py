"""Operator CLI: how long whole `lumi` processes take, from exec to exit.

    .venv/bin/python -m bench.cli_start [--runs 15] [--modes compiled source] [--compare main]

Each command runs as its own process against real backends (a scratch database, a fresh Redis
key prefix with a few dead letters), `--runs` times, the commands interleaved round by round so
that the machine's swings weigh on all of them alike. Per command: wall time (min, median, p90)
and the CPU time of the process (user + system, median), which moves less on a shared VM.

`--compare REF` also runs the commands of another commit (its `lumi_common` and `lumi_api`
sources exported with `git archive`, put first on `PYTHONPATH`), interleaved with this tree's,
so that before and after are measured under the same load.

Two modes, independent of what the virtual environment holds:
- `compiled`: imports read bytecode (a private `PYTHONPYCACHEPREFIX`, filled by a warm-up run),
  as in an installed deployment (pip compiles on install; uv with `--compile-bytecode`);
- `source`: every import compiles its module again (`PYTHONDONTWRITEBYTECODE=1` and an empty
  cache prefix), as in a checkout run with `PYTHONDONTWRITEBYTECODE` and no compiled files.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench._setup import BenchEnv, bench_env, median, percentile
from lumi_common.messages import DeadLetter, encode
from lumi_common.streams.names import IMAGE_JOBS, dlq_name, stream_key

LUMI = str(Path(sys.executable).parent / "lumi")
COMMANDS: dict[str, list[str]] = {
    "lumi --help": ["--help"],
    "lumi streams": ["streams", "--json"],
    "lumi dlq list": ["dlq", "list", "--stream", "image", "--json"],
}
DEAD_LETTERS = 20
SOURCES = ("libs/common/src", "services/api/src")


def timed(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def mode_env(base: dict[str, str], mode: str, cache: Path) -> dict[str, str]:
    env = dict(base, PYTHONPYCACHEPREFIX=str(cache))
    if mode == "compiled":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


async def add_dead_letters(env: BenchEnv) -> None:
    async with env.redis() as redis:
        key = stream_key(env.key_prefix, dlq_name(IMAGE_JOBS))
        for n in range(DEAD_LETTERS):
            letter = DeadLetter(
                stream=IMAGE_JOBS,
                job_id=f"job-{n}",
                original=None,
                reason="attempts_exhausted",
                error="the provider timed out",
                error_code="PROVIDER_TIMEOUT",
                attempts=3,
                deliveries=3,
                consumer="bench",
                failed_at="2026-12-01T00:00:00.000Z",
            )
            await redis.xadd(key, {b"data": encode(letter)})


def export(ref: str, into: Path) -> str:
    """The sources of `ref`, as a PYTHONPATH value."""
    archive = subprocess.run(["git", "archive", ref, *SOURCES], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return os.pathsep.join(str(into / source) for source in SOURCES)


def run_mode(mode: str, variants: dict[str, dict[str, str]], runs: int) -> None:
    """Every command of every variant (this tree, a compared commit), interleaved round by round."""
    cases = [
        (f"{name} {label}".strip(), args) for label in variants for name, args in COMMANDS.items()
    ]
    with tempfile.TemporaryDirectory() as cache:
        envs = {
            label: mode_env(env, mode, Path(cache) / (label or "tree"))
            for label, env in variants.items()
        }
        walls: dict[str, list[float]] = {case: [] for case, _ in cases}
        cpus: dict[str, list[float]] = {case: [] for case, _ in cases}
        for env in envs.values():  # warm-up: fills the bytecode cache in `compiled` mode
            for args in COMMANDS.values():
                timed([LUMI, *args], env)
        for _ in range(runs):
            for label, env in envs.items():
                for name, args in COMMANDS.items():
                    wall, cpu = timed([LUMI, *args], env)
                    walls[f"{name} {label}".strip()].append(wall)
                    cpus[f"{name} {label}".strip()].append(cpu)
    print(f"\n## mode: {mode} ({runs} runs each, interleaved)")
    print(f"{'command':28} {'min':>8} {'median':>8} {'p90':>8} {'CPU median':>11}")
    for case, _ in cases:
        w, c = walls[case], cpus[case]
        print(
            f"{case:28} {min(w) * 1000:6.0f}ms {median(w) * 1000:6.0f}ms "
            f"{percentile(w, 0.9) * 1000:6.0f}ms {median(c) * 1000:9.0f}ms"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--modes", nargs="+", default=["compiled", "source"])
    parser.add_argument("--compare", metavar="REF", help="also run this commit's lumi")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_env(Path(tmp)) as env:
            print(env.header())
            await add_dead_letters(env)
            variants = {"": env.process_env()}
            if args.compare:
                path = export(args.compare, Path(tmp) / "compare")
                variants[f"({args.compare})"] = env.process_env(PYTHONPATH=path)
            for mode in args.modes:
                print(f"# load average before: {os.getloadavg()[0]:.2f}")
                # without bytecode every process takes seconds: fewer runs
                runs = args.runs if mode == "compiled" else max(3, args.runs // 3)
                await asyncio.to_thread(run_mode, mode, variants, runs)
                print(f"# load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
