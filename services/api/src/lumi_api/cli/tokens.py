"""`lumi token create|revoke`: bearer tokens for operators, scripts and first users."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from typing import Any

from lumi_api.auth import invalidation, service
from lumi_api.settings import TokenSettings
from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.redis_client import create_redis
from lumi_common.settings import DatabaseSettings, LogSettings, RedisSettings, load_settings
from lumi_common.time import utcnow

EXIT_NOT_FOUND = 1
EXIT_USAGE = 2


class TokenCliSettings(LogSettings, DatabaseSettings, RedisSettings, TokenSettings):
    pass


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("token", help="bearer tokens")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", help="create a token (and the user, if new); prints `Bearer <token>`"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--admin", action="store_true", help="make the user an administrator")
    create.add_argument("--days", type=int, help="lifetime in days (default: TOKEN_TTL_DAYS)")
    create.set_defaults(run=_create)
    revoke = actions.add_parser("revoke", help="revoke every token of a user")
    revoke.add_argument("--email", required=True)
    revoke.set_defaults(run=_revoke)


def _create(args: argparse.Namespace) -> int:
    settings = load_settings(TokenCliSettings)
    days = args.days if args.days is not None else settings.token_ttl_days
    if days < 1:
        print("--days must be at least 1", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    try:
        issued = asyncio.run(create_token(settings, email=args.email, days=days, admin=args.admin))
    except service.InvalidEmail as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    print(issued.header)  # noqa: T201
    return 0


def _revoke(args: argparse.Namespace) -> int:
    settings = load_settings(TokenCliSettings)
    try:
        revoked = asyncio.run(revoke_tokens(settings, email=args.email))
    except service.InvalidEmail as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    if revoked is None:
        print(f"no user with e-mail {args.email}", file=sys.stderr)  # noqa: T201
        return EXIT_NOT_FOUND
    print(f"revoked {revoked.count} token(s) of {args.email}", file=sys.stderr)  # noqa: T201
    return 0


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
