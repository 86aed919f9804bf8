"""A private `redis-server` process for outage tests: stopped with SIGSTOP (hung: it accepts
connections and never answers), killed, restarted with or without its data. Never the shared one.

With `persistent=True` every write is appended to an AOF fsynced at once, so a restart that keeps
the data (`restart(keep_data=True)`) finds what was acknowledged; `keep_data=False` removes the
files first, as a crash of a server without persistence would lose them.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.processes import free_port

READY_TIMEOUT_SECONDS = 30.0


class PrivateRedis:
    def __init__(self, directory: Path, *, persistent: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt: redis-server)")
        self.directory = directory
        self.port = free_port()
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else []
        self.argv = [
            binary,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
            *("--dir", str(directory), "--logfile", str(directory / "redis.log")),
            *(persistence or ["--appendonly", "no"]),
        ]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise
                time.sleep(0.05)
        finally:
            client.close()

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted (by the kernel), nothing is answered."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGCONT)  # a stopped process dies only once it runs again
            self.process.kill()
            self.process.wait()

    def restart(self, *, keep_data: bool) -> None:
        self.kill()
        if not keep_data:
            shutil.rmtree(self.directory / "appendonlydir", ignore_errors=True)
            (self.directory / "dump.rdb").unlink(missing_ok=True)
        self.start()

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)


@contextmanager
def private_redis(directory: Path, *, persistent: bool = False) -> Iterator[PrivateRedis]:
    server = PrivateRedis(directory, persistent=persistent)
    server.start()
    try:
        yield server
    finally:
        server.kill()
