"""Bearer tokens: opaque random strings, of which only the SHA-256 is stored.

A database leak reveals no usable token; revoking is one update; expiry is a column.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api.auth.repository import AuthRepository
from lumi_common.db.tables import AuthToken, User
from lumi_common.ids import new_id
from lumi_common.public_names import default_name, public_name

TOKEN_BYTES = 32
# a longer header value cannot be one of our tokens: refuse it without a query
MAX_TOKEN_CHARS = 256
# `last_used_at` is for operators, not auditing: one write a minute per token is plenty
TOUCH_INTERVAL = timedelta(minutes=1)
BEARER = "bearer "


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: str
    email: str
    name: str
    is_admin: bool
    token_id: str
    token_expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str  # shown once; only its hash is stored
    token_id: str
    user_id: str

    @property
    def header(self) -> str:
        """What login returns and both apps send back unchanged."""
        return f"Bearer {self.token}"


class InvalidEmail(ValueError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_from_header(value: str | None) -> str | None:
    """`Bearer <t>` or a bare `<t>`: the existing apps send whatever login returned."""
    if value is None:
        return None
    token = value.strip()
    if token[: len(BEARER)].lower() == BEARER:
        token = token[len(BEARER) :].strip()
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return token


def display_name(user: User) -> str:
    return public_name(user_id=user.id, nick_name=user.nick_name)


async def resolve(session: AsyncSession, token_hash: str, *, now: datetime) -> CurrentUser | None:
    """The user of the token with this hash (`hash_token`), unless revoked or expired."""
    repo = AuthRepository(session)
    found = await repo.active_token(token_hash, now=now)
    if found is None:
        return None
    row, user = found
    if row.last_used_at is None or row.last_used_at < now - TOUCH_INTERVAL:
        await repo.touch(row.id, now=now, unless_since=now - TOUCH_INTERVAL)
    return CurrentUser(
        id=user.id,
        email=user.email,
        name=display_name(user),
        is_admin=user.is_admin,
        token_id=row.id,
        token_expires_at=row.expires_at,
    )


async def issue_token(
    session: AsyncSession, *, email: str, ttl: timedelta, now: datetime, admin: bool = False
) -> IssuedToken:
    """A new token for the user with `email`, who is created if new."""
    user = await ensure_user(session, email=email, now=now)
    if admin:
        user.is_admin = True
    return _new_token(AuthRepository(session), user, ttl=ttl, now=now)


async def log_in(
    session: AsyncSession, *, email: str, ttl: timedelta, now: datetime
) -> IssuedToken:
    """A login by e-mail code: the user (created if new) gets a token and a `last_login_at`."""
    user = await ensure_user(session, email=email, now=now)
    user.last_login_at = now
    return _new_token(AuthRepository(session), user, ttl=ttl, now=now)


async def ensure_user(session: AsyncSession, *, email: str, now: datetime) -> User:
    """The user with this address, created if new (two concurrent creations: one IntegrityError)."""
    repo = AuthRepository(session)
    address = normalise_email(email)
    user = await repo.user_by_email(address)
    if user is None:
        user = new_user(address, now=now)
        await repo.add_user(user)
    return user


def _new_token(repo: AuthRepository, user: User, *, ttl: timedelta, now: datetime) -> IssuedToken:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = AuthToken(
        id=new_id(),
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + ttl,
    )
    repo.add_token(row)
    return IssuedToken(token=token, token_id=row.id, user_id=user.id)


async def revoke_tokens(session: AsyncSession, tokens: Iterable[str], *, now: datetime) -> int:
    """Revoke the given tokens (logout); unknown or already revoked ones are ignored."""
    hashes = [hash_token(token) for token in tokens]
    return await AuthRepository(session).revoke_hashes(hashes, now=now) if hashes else 0


@dataclass(frozen=True, slots=True)
class Revoked:
    user_id: str
    count: int


async def revoke_all(session: AsyncSession, *, email: str, now: datetime) -> Revoked | None:
    """Revoke every token of the user; None when there is no such user."""
    repo = AuthRepository(session)
    user = await repo.user_by_email(normalise_email(email))
    if user is None:
        return None
    return Revoked(user.id, await repo.revoke_all(user.id, now=now))


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or not domain or " " in value:
        raise InvalidEmail(f"not an e-mail address: {email!r}")
    return value


def new_user(email: str, *, now: datetime) -> User:
    user_id = new_id()
    return User(
        id=user_id,
        email=email,
        # not the address's local part: that is often the person's real name
        user_name=default_name(user_id),
        is_admin=False,
        created_at=now,
        updated_at=now,
    )
