"""Running `lumi` as an operator does: a process with the deployment's environment."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.support import backends
from tests.support.processes import clean_env, script


def cli_env(*, database_url: str, redis_url: str, key_prefix: str, **extra: str) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=database_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=key_prefix, **extra
    )


async def lumi(
    env: dict[str, str], *args: str, python_flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`lumi <args>` to its end, without blocking the test's event loop. With `python_flags`
    (such as `-X importtime`) it runs as `python <flags> -m lumi_api.cli.main`."""
    argv = (
        [sys.executable, *python_flags, "-m", "lumi_api.cli.main", *args]
        if python_flags
        else [script("lumi"), *args]
    )
    return await asyncio.to_thread(
        subprocess.run, argv, env=env, capture_output=True, text=True, timeout=120
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a failing `lumi` writes on stderr (`lumi: <problem>; <fix>`)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lumi: "), lines[0]
    return lines[0]


@asynccontextmanager
async def scratch_database(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no tables) on the test run's server, dropped afterwards; on SQLite,
    the URL of a file that does not exist yet."""
    if not database_url.startswith("mysql"):
        yield backends.sqlite_url(tmp_path / "scratch")
        return
    url = await backends.create_mysql_database(backends.mysql_server_url())
    try:
        yield url
    finally:
        await backends.drop_mysql_database(url)
