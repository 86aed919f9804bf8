"""Users, their bearer tokens and their e-mail login codes. Nothing here commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.changes import changed
from lumi_common.db.tables import AuthToken, EmailCode, User


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
        return await changed(
            self.session,
            update(AuthToken)
            .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False),
        )

    async def revoke_hashes(self, token_hashes: list[str], *, now: datetime) -> int:
        return await changed(
            self.session,
            update(AuthToken)
            .where(AuthToken.token_hash.in_(token_hashes), AuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False),
        )


class EmailCodeRepository:
    """One-time login codes. Only the newest code of an address is ever checked."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, code: EmailCode) -> None:
        self.session.add(code)

    async def newest(self, email: str) -> EmailCode | None:
        result = await self.session.scalars(
            select(EmailCode)
            .where(EmailCode.email == email)
            .order_by(EmailCode.created_at.desc(), EmailCode.id.desc())
            .limit(1)
        )
        return result.one_or_none()

    async def delete(self, code_id: str) -> None:
        await self.session.execute(delete(EmailCode).where(EmailCode.id == code_id))

    async def retire_others(self, email: str, *, keep_id: str, now: datetime) -> None:
        """Expire the address's other live codes: only the code just sent stays usable."""
        await self.session.execute(
            update(EmailCode)
            .where(
                EmailCode.email == email,
                EmailCode.id != keep_id,
                EmailCode.consumed_at.is_(None),
                EmailCode.expires_at > now,
            )
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )

    async def record_failure(self, code_id: str, *, max_attempts: int) -> int:
        """Count a wrong try (atomically, never past the limit); the code's count after it."""
        await self.session.execute(
            update(EmailCode)
            .where(EmailCode.id == code_id, EmailCode.failed_attempts < max_attempts)
            .values(failed_attempts=EmailCode.failed_attempts + 1)
            .execution_options(synchronize_session=False)
        )
        count = await self.session.scalar(
            select(EmailCode.failed_attempts).where(EmailCode.id == code_id)
        )
        return max_attempts if count is None else count

    async def consume(self, code_id: str, *, max_attempts: int, now: datetime) -> bool:
        """Compare-and-set: of two logins with one code, exactly one gets True."""
        rows = await changed(
            self.session,
            update(EmailCode)
            .where(
                EmailCode.id == code_id,
                EmailCode.consumed_at.is_(None),
                EmailCode.expires_at > now,
                EmailCode.failed_attempts < max_attempts,
            )
            .values(consumed_at=now)
            .execution_options(synchronize_session=False),
        )
        return rows == 1
