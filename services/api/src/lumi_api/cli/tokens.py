"""`lumi token create|revoke`: bearer tokens for operators, scripts and first users (the work is
`lumi_api.auth.operator`'s; imported by the handlers only)."""

from __future__ import annotations

import argparse
from typing import Any

from lumi_api.cli.errors import CliError, ExitCode, run_async


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("token", help="bearer tokens")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", help="create a token (and the user, if new); prints `Bearer <token>`"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--admin", action="store_true", help="make the user an administrator")
    create.add_argument("--days", type=int, help="lifetime in days (default: TOKEN_TTL_DAYS)")
    create.set_defaults(run=run_async(_create))
    revoke = actions.add_parser("revoke", help="revoke every token of a user")
    revoke.add_argument("--email", required=True)
    revoke.set_defaults(run=run_async(_revoke))


def _bad_email(error: ValueError) -> CliError:
    return CliError(ExitCode.BAD_INPUT, str(error), "give a valid e-mail address")


async def _create(args: argparse.Namespace) -> int:
    from lumi_api.auth import operator, service
    from lumi_api.cli import context

    settings = context.load(operator.TokenCliSettings)
    days = args.days if args.days is not None else settings.token_ttl_days
    if days < 1:
        raise CliError(ExitCode.USAGE, f"--days {days} is not a lifetime", "give 1 or more days")
    async with context.checked_probe(settings):
        pass
    try:
        issued = await operator.create_token(
            settings, email=args.email, days=days, admin=args.admin
        )
    except service.InvalidEmail as error:
        raise _bad_email(error) from error
    context.say(issued.header)
    return ExitCode.OK


async def _revoke(args: argparse.Namespace) -> int:
    import sys

    from lumi_api.auth import operator, service
    from lumi_api.cli import context

    settings = context.load(operator.TokenCliSettings)
    async with context.checked_probe(settings):
        pass
    try:
        revoked = await operator.revoke_tokens(settings, email=args.email)
    except service.InvalidEmail as error:
        raise _bad_email(error) from error
    if revoked is None:
        raise CliError(
            ExitCode.NOT_FOUND,
            f"no user with e-mail {args.email}",
            "check the address (`lumi token create` makes users)",
        )
    sys.stderr.write(f"revoked {revoked.count} token(s) of {args.email}\n")
    return ExitCode.OK
