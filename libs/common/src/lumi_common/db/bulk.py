"""Inserting freshly built rows with one multi-row INSERT per table, past the unit of work.

The ORM's flush of a dozen new objects (identity map, events, per-object bookkeeping) cost more
than the database work of a task creation. The objects stay transient: they are the caller's
values, still fine to read and to answer with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import Base


async def insert_rows(session: AsyncSession, rows: Sequence[Base]) -> None:
    """One INSERT for rows of one table, in the caller's transaction. Unset attributes take
    their column's default, so rows built alike carry the same columns."""
    if not rows:
        return
    mapper = inspect(type(rows[0]))
    columns = [(attr.key, attr.columns[0].key) for attr in mapper.column_attrs]
    values: list[dict[str, Any]] = [
        {column: value for key, column in columns if (value := getattr(row, key)) is not None}
        for row in rows
    ]
    # a Core statement on the session's connection: the ORM's bulk path costs more than this
    connection = await session.connection()
    await connection.execute(insert(cast(Table, mapper.local_table)), values)
