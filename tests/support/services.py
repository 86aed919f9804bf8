"""The real console scripts as processes for end-to-end tests: start, wait until ready, stop.

Every process writes its output to a log file in the test's temporary directory; `Services.close`
stops what is still running and prints the end of every log, which pytest shows only when the
test failed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.processes import clean_env, free_port, script

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
LOG_TAIL_LINES = 60


def system_env(
    *, database_url: str, redis_url: str, key_prefix: str, storage_dir: Path, port: int
) -> dict[str, str]:
    """What every process of one test's Lumi shares, with settings short enough for tests."""
    return clean_env(
        **lumi_env(
            database_url=database_url,
            redis_url=redis_url,
            key_prefix=key_prefix,
            storage_dir=storage_dir,
            port=port,
        )
    )


def lumi_env(
    *, database_url: str, redis_url: str, key_prefix: str, storage_dir: Path, port: int
) -> dict[str, str]:
    """The Lumi settings of `system_env` alone (a container gets these, not this process's
    environment)."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": key_prefix,
        "STORAGE_URL": storage_dir.resolve().as_uri(),
        "COOKIE_SECRET": secrets.token_urlsafe(40),
        "FILE_URL_SECRET": secrets.token_urlsafe(40),
        "APP_ENV": "test",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "PORT": str(port),
        "RELAY_ENABLED": "true",
        "RELAY_POLL_SECONDS": "0.1",
        "MODEL_POLL_INTERVAL_SECONDS": "0.2",
        "JOB_RETRY_BASE_SECONDS": "0.1",
        "JOB_RETRY_MAX_SECONDS": "0.5",
        "JOB_LEASE_SECONDS": "3",
        "RECONCILE_AFTER_SECONDS": "3600",
        "SHUTDOWN_GRACE_SECONDS": "5",
        # suites create many tasks as one user (quotas: tests/integration/test_tasks_quotas.py)
        "TASKS_PER_USER_PER_DAY": "0",
        "ACTIVE_TASKS_PER_USER": "0",
        # a process killed with SIGKILL must not lose the log lines it already wrote
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # the log file stays open in the child
                self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no drain, whatever was in flight is left as it was."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not exit in time. The exit code, None if killed."""
        if self.process is None:
            return None
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").splitlines()

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines it wrote."""
        return json_events(self.lines())

    def tail(self, count: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.lines()[-count:])


@dataclass
class Services:
    """The processes one test started, all with the same environment unless told otherwise."""

    log_dir: Path
    env: dict[str, str]
    cwd: Path | None = None
    started: list[Service] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)

    @property
    def port(self) -> int:
        return int(self.env["PORT"])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, name: str, *args: str, **env: str) -> Service:
        log_path = self.log_dir / f"{name}-{len(self.started)}.log"
        service = Service(name, [script(name), *args], {**self.env, **env}, log_path, self.cwd)
        self.started.append(service.start())
        return service

    async def start_api(self, **env: str) -> Service:
        api = self.spawn("lumi-api", **env)
        await wait_ready(api, f"{self.base_url}/api/health")
        return api

    async def start_worker(self, name: str, **env: str) -> Service:
        """`lumi-image-worker` or `lumi-model-worker`, ready once its health probe answers."""
        health = free_port()
        worker = self.spawn(name, **{"HEALTH_PORT": str(health), **env})
        await wait_ready(worker, f"http://127.0.0.1:{health}/")
        return worker

    async def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`lumi …` with the same environment; does not block the test's event loop."""
        process = await asyncio.create_subprocess_exec(
            script("lumi"),
            *args,
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode is not None
        return subprocess.CompletedProcess(
            ["lumi", *args], process.returncode, out.decode(), err.decode()
        )

    async def token(self, email: str) -> str:
        """A bearer header value from `lumi token create`, as an operator issues it."""
        result = await self.cli("token", "create", "--email", email)
        assert result.returncode == 0, result.stderr
        header = result.stdout.strip()
        assert header.startswith("Bearer "), result.stdout
        return header

    def close(self, *, show_logs: bool = True) -> None:
        """Stop everything still running, then print the end of every log."""
        for service in reversed(self.started):
            service.stop()
        if not show_logs:
            return
        for service in self.started:
            code = service.process.returncode if service.process else None
            print(f"\n===== {service.log_path.name} (exit {code}) =====\n{service.tail()}")


def json_events(lines: list[str]) -> list[dict[str, Any]]:
    """The JSON objects among log lines (the services log one per line)."""
    found = []
    for line in lines:
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


async def wait_ready(service: Service, url: str, *, within: float = READY_TIMEOUT_SECONDS) -> None:
    """Until `url` answers 200; fails at once, with its log, if the process exits first."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            if not service.running:
                raise AssertionError(f"{service.name} exited while starting:\n{service.tail()}")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{service.name} not ready after {within}s:\n{service.tail()}")
            await asyncio.sleep(0.1)
