"""How many rows a statement changed, typed once.

`AsyncSession.execute` is typed as returning a `Result`, but an UPDATE or DELETE gives a
`CursorResult`, whose `rowcount` says how many rows matched (the MySQL dialect asks the server
for found rows, not only those whose values changed): what every compare-and-set here reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


async def changed(session: AsyncSession, statement: Executable, params: Params = None) -> int:
    """Run an UPDATE or DELETE in the session's transaction; the number of rows it matched."""
    result = await session.execute(statement, params)
    return cast(CursorResult[Any], result).rowcount
