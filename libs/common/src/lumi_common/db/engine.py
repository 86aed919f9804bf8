"""Engine and session factory, sized from settings (the old service hard-coded a pool of 10)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from lumi_common.db import connection
from lumi_common.settings import DatabaseSettings

# several processes share the SQLite file; wait for the write lock instead of failing at once
SQLITE_BUSY_TIMEOUT_MS = 15_000
# below MariaDB's default wait_timeout, so the pool never hands out a closed connection
MYSQL_POOL_RECYCLE_SECONDS = 1800


def create_engine(settings: DatabaseSettings, *, pooled: bool = True) -> AsyncEngine:
    """An engine for the service's lifetime, or with `pooled=False` for one-off commands."""
    pool: dict[str, Any] = (
        {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_pool_timeout,
        }
        if pooled
        else {"poolclass": NullPool}
    )
    if settings.is_sqlite:
        return _sqlite_engine(settings.database_url, **pool)
    return create_async_engine(
        settings.database_url,
        # no ping per checkout (a round trip per transaction); connections are recycled before
        # the server drops them, and a connection lost anyway fails one transaction, which
        # `in_transaction` runs again on a fresh one (SQLAlchemy invalidates the pool)
        pool_pre_ping=False,
        # sessions always end their transaction before returning a connection, so the pool's
        # extra ROLLBACK on return would be a wasted round trip per transaction
        pool_reset_on_return=None,
        pool_recycle=MYSQL_POOL_RECYCLE_SECONDS,
        # each statement sees what committed before it: after taking a row lock, a transaction
        # must see the work of the one it waited for (REPEATABLE READ would show its snapshot)
        isolation_level="READ COMMITTED",
        # a UTC session, so server-side time functions agree with the values we write
        connect_args={
            "init_command": "SET time_zone = '+00:00'",
            "charset": "utf8mb4",
            # PyMySQL's escaping of parameters, as fast string calls (see mysql_escape), and a
            # deadline on every answer of the server for a service's pool (not for migrations
            # and one-off commands, whose statements may rightly take long)
            "async_creator_fn": functools.partial(
                connection.connect,
                answer_timeout=settings.db_statement_timeout_seconds if pooled else None,
            ),
        },
        **pool,
    )


def _sqlite_engine(url: str, **overrides: Any) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **overrides)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # let SQLAlchemy's begin event issue BEGIN IMMEDIATE (below), not the driver
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        # take the write lock up front: a deferred transaction that read first cannot upgrade
        # once another process committed (SQLITE_BUSY_SNAPSHOT), and waiting is what we want
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
