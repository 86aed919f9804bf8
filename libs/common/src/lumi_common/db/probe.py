"""Short read-only queries for operator tools, on the driver itself (aiomysql or aiosqlite).

Importing SQLAlchemy costs a `lumi` process more CPU than the whole start budget of `lumi
streams` leaves for it (docs/performance.md, "Operator CLI"); that command and the schema check
every database command makes first need two small queries. So they connect with the driver
SQLAlchemy would use, from `DATABASE_URL` read the way SQLAlchemy reads these two URL forms.
Everything that writes goes through the engine (`lumi_common.db.engine`).

Driver errors are turned into two exceptions an operator can act on: `DatabaseUnavailable`
(the server cannot be reached, refuses the login, or the database does not exist) and
`SchemaNotReady` (the tables are missing, or at another revision than this code's).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from lumi_common.db.schema import SchemaState, migration_graph
from lumi_common.settings import DatabaseSettings
from lumi_common.urls import redact_url

CONNECT_TIMEOUT_SECONDS = 5
# MySQL/MariaDB error numbers: cannot connect, refused login, no such database, connection lost
MYSQL_UNREACHABLE = frozenset({1044, 1045, 1049, 1698, 2002, 2003, 2005, 2006, 2013})
# no such table, no such column: the schema is older than the code
MYSQL_SCHEMA = frozenset({1146, 1054})
Problem = Literal["unreachable", "schema"]


class DatabaseUnavailable(Exception):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"database {redact_url(url)} unavailable: {reason}")
        self.url = redact_url(url)
        self.reason = reason


class SchemaNotReady(Exception):
    def __init__(self, url: str, state: SchemaState, detail: str = "") -> None:
        super().__init__(f"database {redact_url(url)}: schema {state.status} ({state})")
        self.url = redact_url(url)
        self.state = state
        self.detail = detail


def classify(error: BaseException) -> tuple[Problem, str] | None:
    """Whether a driver error (or one it caused) means unreachable or schema, and why."""
    seen: BaseException | None = error
    while seen is not None:
        found = _classify_one(seen)
        if found is not None:
            return found
        seen = seen.__cause__ or seen.__context__
    return None


def _classify_one(error: BaseException) -> tuple[Problem, str] | None:
    if isinstance(error, sqlite3.Error):
        text = str(error)
        if text.startswith(("no such table", "no such column")):
            return "schema", text
        if isinstance(error, sqlite3.OperationalError) and "unable to open" in text:
            return "unreachable", text
        return None
    args: tuple[object, ...] = error.args
    # pymysql.err.OperationalError/ProgrammingError carry (errno, message); matched by shape so
    # that classifying needs no driver import
    if type(error).__module__.startswith("pymysql") and len(args) == 2 and isinstance(args[0], int):
        errno, message = args[0], str(args[1])
        reason = f"{message} ({_cause(error)})" if errno == 2003 and _cause(error) else message
        if errno in MYSQL_UNREACHABLE:
            return "unreachable", reason
        if errno in MYSQL_SCHEMA:
            return "schema", message
    return None


def _cause(error: BaseException) -> str:
    cause = error.__cause__
    if isinstance(cause, OSError):
        return cause.strerror or str(cause)
    return ""


@dataclass(frozen=True)
class Probe:
    url: str
    dialect: Literal["mysql", "sqlite"]
    connection: Any

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query; parameters are written `?` for both drivers."""
        if self.dialect == "sqlite":
            cursor = await self.connection.execute(sql, params)
            return list(await cursor.fetchall())
        async with self.connection.cursor() as cursor:
            await cursor.execute(sql.replace("?", "%s"), params)
            return list(await cursor.fetchall())

    def timestamp(self, moment: datetime) -> Any:
        """A UTC datetime as the column stores it (naive; ISO text on SQLite)."""
        naive = moment.replace(tzinfo=None)
        return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if self.dialect == "sqlite" else naive

    async def schema(self) -> SchemaState:
        head, revisions = migration_graph()
        try:
            rows = await self.fetch("SELECT version_num FROM alembic_version")
        except Exception as error:  # either driver's error: classified, else re-raised
            found = classify(error)
            if found is None or found[0] != "schema":
                raise
            return SchemaState(current=None, head=head, revisions=revisions)
        return SchemaState(current=rows[0][0] if rows else None, head=head, revisions=revisions)

    async def require_schema(self) -> SchemaState:
        """The schema state, or `SchemaNotReady` unless it is this code's head revision."""
        state = await self.schema()
        if state.status != "current":
            raise SchemaNotReady(self.url, state)
        return state


@asynccontextmanager
async def connect(settings: DatabaseSettings) -> AsyncIterator[Probe]:
    """A connection for a few queries, or `DatabaseUnavailable` / `SchemaNotReady` (an SQLite
    file that does not exist yet: `lumi db upgrade` creates it)."""
    url = settings.database_url
    try:
        if settings.is_sqlite:
            connection = await _sqlite(url)
        else:
            connection = await _mysql(url)
    except Exception as error:  # either driver's error: classified, else re-raised
        found = classify(error)
        if found is None:
            raise
        raise DatabaseUnavailable(url, found[1]) from error
    try:
        yield Probe(url, "sqlite" if settings.is_sqlite else "mysql", connection)
    finally:
        await _close(connection)


async def _sqlite(url: str) -> Any:
    import aiosqlite

    path = sqlite_path(url)
    if path is None:
        return await aiosqlite.connect(":memory:")
    if not path.exists():
        head, revisions = migration_graph()
        problem = f"the SQLite database file {path} does not exist yet"
        raise SchemaNotReady(url, SchemaState(None, head, revisions), problem)
    # read-write, never create: a mistyped path must not leave an empty database behind
    return await aiosqlite.connect(f"file:{path}?mode=rw", uri=True)


def sqlite_path(url: str) -> Path | None:
    """`sqlite+aiosqlite:///.lumi/lumi.db` → `.lumi/lumi.db`; None for an in-memory database."""
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    rest = rest.split("?", 1)[0]
    return None if rest in ("", ":memory:") else Path(rest)


async def _mysql(url: str) -> Any:
    from lumi_common.db import mysql_escape

    parts = urlsplit(url)
    # query options are the driver's keyword arguments, as SQLAlchemy passes them
    options: dict[str, Any] = dict(parse_qsl(parts.query))
    if "connect_timeout" in options:
        options["connect_timeout"] = int(options["connect_timeout"])
    return await mysql_escape.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        db=unquote(parts.path.lstrip("/")) or None,
        **{
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "charset": "utf8mb4",
            "init_command": "SET time_zone = '+00:00'",
            **options,
        },
    )


async def _close(connection: Any) -> None:
    closing = connection.close()
    if closing is not None:  # aiosqlite's close is a coroutine, aiomysql's is not
        await closing
