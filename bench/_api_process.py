"""The real `lumi-api` process the API benchmarks drive: started, awaited until healthy, and its
CPU time read from /proc."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

import aiohttp

from bench._setup import BenchEnv

BIN = Path(sys.executable).parent


async def start_api(
    env: BenchEnv, port: int, settings: dict[str, str], *, log: Path | None = None
) -> asyncio.subprocess.Process:
    """`lumi-api` on `port` (relay on, a rate limit no caller reaches) with `settings` on top,
    once it answers /api/health; its output appended to `log`, or dropped."""
    values = {
        "PORT": str(port),
        "COOKIE_SECRET": secrets.token_urlsafe(40),
        "RELAY_ENABLED": "true",
        "RATE_LIMIT_PER_MINUTE": "1000000",
        **settings,
    }
    output = log.open("ab") if log is not None else None
    try:
        process = await asyncio.create_subprocess_exec(
            str(BIN / "lumi-api"),
            env=env.process_env(**values),
            stdout=output or asyncio.subprocess.DEVNULL,
            stderr=output or asyncio.subprocess.DEVNULL,
        )
    finally:
        if output is not None:
            output.close()
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{port}/api/health") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise SystemExit("lumi-api did not become ready")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants so far (Linux; with
    `API_PROCESSES` > 1 the API processes are children of a supervising parent). Unlike a rate,
    it hardly depends on what else the machine is doing, so it compares runs on a busy machine."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, ticks = {pid}, 0
    for _ in range(3):  # parent, children, grandchildren
        tree |= {child for child, (parent, _) in stats.items() if parent in tree}
    ticks = sum(stats[member][1] for member in tree if member in stats)
    return ticks / os.sysconf("SC_CLK_TCK")
