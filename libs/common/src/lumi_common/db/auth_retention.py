"""Deleting login codes and tokens nobody can use any more, a while after they stopped working
(kept that long for an operator looking into abuse). Run by the relay's retention sweep."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import AuthToken, EmailCode


async def prune_auth_rows(session: AsyncSession, *, before: datetime, limit: int) -> int:
    """At most `limit` rows of each kind that expired (or were revoked) before `before`;
    the number deleted. Ids first, then the delete: MariaDB refuses LIMIT in an IN subquery."""
    deleted = await _delete(session, EmailCode, EmailCode.expires_at < before, limit)
    for stale in (AuthToken.expires_at < before, AuthToken.revoked_at < before):
        deleted += await _delete(session, AuthToken, stale, limit)
    return deleted


async def _delete(
    session: AsyncSession,
    table: type[EmailCode] | type[AuthToken],
    stale: ColumnElement[bool],
    limit: int,
) -> int:
    ids = (await session.scalars(select(table.id).where(stale).limit(limit))).all()
    if ids:
        await session.execute(
            delete(table).where(table.id.in_(ids)).execution_options(synchronize_session=False)
        )
    return len(ids)
