"""Inserting freshly built rows with one multi-row INSERT per table, past the unit of work.

The ORM's flush of a dozen new objects (identity map, events, per-object bookkeeping) cost more
than the database work of a task creation, and so did building the ORM objects at all: hot paths
build plain rows (a dict per row, keyed by column) and insert them with one statement per table.

On MySQL/MariaDB the statement goes to the driver as text. SQLAlchemy's `executemany` would turn
each row into a parameter dict through every column's bind processor, then PyMySQL would parse
the statement with a regular expression and `%`-format each row into the very same multi-row
INSERT; under load that bookkeeping was a large part of a creation's CPU (docs/performance.md,
"API, 2026-11-29 03:00–04:00 UTC"). Here each column's bind processor (the column type's own,
so values are converted exactly as SQLAlchemy would) and the connection's escaping (PyMySQL's,
`mysql_escape`) make the literal directly. Errors come out as SQLAlchemy's exception classes, as
from any statement. Other databases take the Core path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import pymysql
from sqlalchemy import Dialect, Insert, Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from lumi_common.db.mysql_escape import EscapingConnection
from lumi_common.db.tables import Base

Row = Mapping[str, Any]
Processor = Callable[[Any], Any] | None


async def insert_values(session: AsyncSession, model: type[Base], rows: Sequence[Row]) -> None:
    """One INSERT of `rows` into `model`'s table, in the caller's transaction. Every row names
    the same columns; a column left out takes its default, so name every column with a value."""
    if not rows:
        return
    connection = await session.connection()
    driver = _escaping_driver(connection)
    if driver is None:
        await connection.execute(_insert(model), list(rows))
        return
    statement = _literal_insert(model, tuple(rows[0]), connection.dialect)
    sql = statement.render(rows, driver.escape)
    try:
        await driver.query(sql)
    except pymysql.err.Error as exc:
        raise DBAPIError.instance(
            statement.head + "…", None, exc, pymysql.err.Error, dialect=connection.dialect
        ) from exc


def _escaping_driver(connection: AsyncConnection) -> EscapingConnection | None:
    # the session has checked its connection out already: no I/O behind `.connection`
    driver = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    return driver if isinstance(driver, EscapingConnection) else None


@functools.cache
def _insert(model: type[Base]) -> Insert:
    return insert(cast(Table, model.__table__))


class LiteralInsert:
    """`INSERT INTO t (columns) VALUES (…), (…)` for rows naming `columns`, values inline."""

    def __init__(self, table: Table, columns: tuple[str, ...], dialect: Dialect) -> None:
        quote = dialect.identifier_preparer.quote
        # identifiers from our own table metadata, quoted by the dialect; values are escaped
        self.head = f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) VALUES "  # noqa: S608
        # each column with its type's bind processor (None: the value goes to escaping as is)
        self._columns: list[tuple[str, Processor]] = [
            (name, table.c[name].type.bind_processor(dialect)) for name in columns
        ]

    def render(self, rows: Sequence[Row], escape: Callable[[Any], str]) -> str:
        def values(row: Row) -> str:
            literals = [
                escape(row[name] if process is None else process(row[name]))
                for name, process in self._columns
            ]
            return "(" + ", ".join(literals) + ")"

        return self.head + ", ".join(map(values, rows))


@functools.cache
def _literal_insert(model: type[Base], columns: tuple[str, ...], dialect: Dialect) -> LiteralInsert:
    return LiteralInsert(cast(Table, model.__table__), columns, dialect)
