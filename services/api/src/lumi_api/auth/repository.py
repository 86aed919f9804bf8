"""Users and their bearer tokens. Nothing here commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import AuthToken, User


class AuthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_by_email(self, email: str) -> User | None:
        result = await self.session.scalars(select(User).where(User.email == email))
        return result.one_or_none()

    async def add_user(self, user: User) -> None:
        self.session.add(user)
        await self.session.flush()  # before its tokens: no ORM relationship orders the inserts

    def add_token(self, token: AuthToken) -> None:
        self.session.add(token)

    async def active_token(
        self, token_hash: str, *, now: datetime
    ) -> tuple[AuthToken, User] | None:
        """The token with this hash and its user, unless it is revoked or expired."""
        query = (
            select(AuthToken, User)
            .join(User, User.id == AuthToken.user_id)
            .where(
                AuthToken.token_hash == token_hash,
                AuthToken.revoked_at.is_(None),
                AuthToken.expires_at > now,
            )
        )
        row = (await self.session.execute(query)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def touch(self, token_id: str, *, now: datetime, unless_since: datetime) -> None:
        """Record a use, unless one was recorded at or after `unless_since` (by any replica)."""
        await self.session.execute(
            update(AuthToken)
            .where(
                AuthToken.id == token_id,
                or_(AuthToken.last_used_at.is_(None), AuthToken.last_used_at < unless_since),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )

    async def revoke_all(self, user_id: str, *, now: datetime) -> int:
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            update(AuthToken)
            .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount
