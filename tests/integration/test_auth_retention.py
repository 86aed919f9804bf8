"""The retention sweep deletes login codes and tokens that stopped working long enough ago
(issue 12, point 16: they were never deleted), and nothing that still works."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import AuthToken, EmailCode
from lumi_common.ids import new_id
from lumi_common.outbox.relay import Relay, RelayConfig
from lumi_common.states import EmailCodePurpose
from lumi_common.time import utcnow
from tests.support.api import issue

Sessions = async_sessionmaker[AsyncSession]


async def add_code(sessionmaker: Sessions, *, expired_ago: timedelta) -> str:
    now = utcnow()
    row = EmailCode(
        id=new_id(),
        email=f"{new_id().lower()}@example.com",
        purpose=EmailCodePurpose.LOGIN,
        code_hash="0" * 64,
        failed_attempts=0,
        requester_ip="192.0.2.1",
        created_at=now - expired_ago - timedelta(minutes=10),
        expires_at=now - expired_ago,
    )
    async with sessionmaker.begin() as session:
        session.add(row)
    return row.id


async def token_id(sessionmaker: Sessions, **values: object) -> str:
    issued = await issue(sessionmaker)
    if values:
        async with sessionmaker.begin() as session:
            await session.execute(
                update(AuthToken).where(AuthToken.id == issued.token_id).values(**values)
            )
    return issued.token_id


async def test_the_sweep_prunes_dead_codes_and_tokens_only(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    now = utcnow()
    old_code = await add_code(sessionmaker, expired_ago=timedelta(hours=25))
    recent_code = await add_code(sessionmaker, expired_ago=timedelta(hours=1))
    live_code = await add_code(sessionmaker, expired_ago=-timedelta(minutes=5))
    expired = await token_id(sessionmaker, expires_at=now - timedelta(hours=25))
    revoked = await token_id(sessionmaker, revoked_at=now - timedelta(hours=25))
    just_revoked = await token_id(sessionmaker, revoked_at=now - timedelta(hours=1))
    live = await token_id(sessionmaker)
    relay = Relay(sessionmaker, redis, RelayConfig(key_prefix, auth_retention=timedelta(hours=24)))

    await relay.sweep()

    async with sessionmaker() as session:
        codes = set(
            await session.scalars(
                select(EmailCode.id).where(EmailCode.id.in_([old_code, recent_code, live_code]))
            )
        )
        tokens = set(
            await session.scalars(
                select(AuthToken.id).where(AuthToken.id.in_([expired, revoked, just_revoked, live]))
            )
        )
    assert codes == {recent_code, live_code}
    assert tokens == {just_revoked, live}
