"""What operators do to tokens from the command line (`lumi token create|revoke`): issue one for
an e-mail (creating the user if new), or revoke every token of a user."""

from __future__ import annotations

from datetime import timedelta

from lumi_api.auth import invalidation, service
from lumi_api.settings import TokenSettings
from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.redis_client import create_redis
from lumi_common.settings import DatabaseSettings, LogSettings, RedisSettings
from lumi_common.time import utcnow


class TokenCliSettings(LogSettings, DatabaseSettings, RedisSettings, TokenSettings):
    pass


async def create_token(
    settings: DatabaseSettings, *, email: str, days: int, admin: bool = False
) -> service.IssuedToken:
    engine = create_engine(settings, pooled=False)
    try:
        async with create_sessionmaker(engine).begin() as session:
            return await service.issue_token(
                session, email=email, ttl=timedelta(days=days), now=utcnow(), admin=admin
            )
    finally:
        await engine.dispose()


async def revoke_tokens(settings: TokenCliSettings, *, email: str) -> service.Revoked | None:
    """Revoke in the database, then tell the running API processes to drop the user's cached
    tokens (`lumi_api.auth.invalidation`)."""
    engine = create_engine(settings, pooled=False)
    try:
        async with create_sessionmaker(engine).begin() as session:
            revoked = await service.revoke_all(session, email=email, now=utcnow())
    finally:
        await engine.dispose()
    if revoked is not None:
        async with create_redis(settings) as redis:
            await invalidation.forget_user(redis, settings.redis_key_prefix, revoked.user_id)
    return revoked
