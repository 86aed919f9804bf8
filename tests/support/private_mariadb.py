"""A private MariaDB server for tests that restart or kill it: a fresh data directory made by
`mariadb-install-db`, `mariadbd` on a free port, root without a password on 127.0.0.1 only.
Never the shared server on 3306."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import free_port

READY_TIMEOUT_SECONDS = 60.0


class PrivateMariaDB:
    def __init__(self, directory: Path) -> None:
        server, install = shutil.which("mariadbd"), shutil.which("mariadb-install-db")
        if server is None or install is None:
            raise RuntimeError("mariadbd is not installed (apt: mariadb-server)")
        self.directory = directory
        self.port = free_port()
        self.data = directory / "data"
        self.install = install
        self.argv = [
            server,
            "--no-defaults",
            f"--datadir={self.data}",
            "--user=root",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={directory / 'mysqld.sock'}",
            f"--pid-file={directory / 'mysqld.pid'}",
            f"--log-error={directory / 'error.log'}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=64M",
            "--max-connections=300",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def server_url(self) -> str:
        return f"mysql+aiomysql://root@127.0.0.1:{self.port}/"

    def url(self, database: str) -> str:
        return f"mysql+aiomysql://root@127.0.0.1:{self.port}/{database}"

    def initialise(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                self.install,
                "--no-defaults",
                f"--datadir={self.data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mariadbd did not start; see {self.directory / 'error.log'}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: a crash. Committed transactions survive (InnoDB's log), nothing else."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()

    def _answers(self) -> bool:
        """Whether the server sends its handshake (a socket that only connects is not enough)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return len(sock.recv(16)) > 0
        except OSError:
            return False


@contextmanager
def private_mariadb(directory: Path) -> Iterator[PrivateMariaDB]:
    server = PrivateMariaDB(directory)
    server.initialise()
    server.start()
    try:
        yield server
    finally:
        server.stop()
