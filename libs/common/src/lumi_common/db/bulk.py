"""Inserting freshly built rows with one multi-row INSERT per table, past the unit of work.

The ORM's flush of a dozen new objects (identity map, events, per-object bookkeeping) cost more
than the database work of a task creation, and so did building the ORM objects at all: hot paths
build plain rows (a dict per row, keyed by column) and insert them with a Core statement built
once per table, so SQLAlchemy's compiled cache answers without generating a cache key each time.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Insert, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import Base

Row = Mapping[str, Any]


async def insert_values(session: AsyncSession, model: type[Base], rows: Sequence[Row]) -> None:
    """One INSERT of `rows` into `model`'s table, in the caller's transaction. Every row names
    the same columns; a column left out takes its default, so name every column with a value."""
    if not rows:
        return
    connection = await session.connection()
    await connection.execute(_insert(model), list(rows))


@functools.cache
def _insert(model: type[Base]) -> Insert:
    return insert(cast(Table, model.__table__))
