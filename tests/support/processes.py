"""Helpers to run the real console scripts as processes."""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def script(name: str) -> str:
    return str(BIN / name)


def clean_env(**values: str) -> dict[str, str]:
    """The current environment without Lumi settings, plus `values`."""
    owned = {"DATABASE_URL", "REDIS_URL", "COOKIE_SECRET", "APP_ENV", "PORT", "CORS_ORIGINS"}
    env = {k: v for k, v in os.environ.items() if k not in owned}
    env.update(values)
    return env


def wait_for_http(url: str, *, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
