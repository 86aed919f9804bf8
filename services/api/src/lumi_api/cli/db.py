"""`lumi db upgrade|current`: schema migrations on the configured database."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from lumi_common.db import migrate
from lumi_common.settings import DatabaseSettings, LogSettings, load_settings


class DbCliSettings(LogSettings, DatabaseSettings):
    pass


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("db", help="database schema")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="migrate to the latest (or given) revision")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(run=_upgrade)
    current = actions.add_parser("current", help="print the applied and the latest revision")
    current.set_defaults(run=_current)


def _upgrade(args: argparse.Namespace) -> int:
    settings = load_settings(DbCliSettings)
    asyncio.run(migrate.upgrade(settings, args.revision))
    print(f"database at revision {asyncio.run(migrate.current_revision(settings))}")  # noqa: T201
    return 0


def _current(_: argparse.Namespace) -> int:
    settings = load_settings(DbCliSettings)
    current = asyncio.run(migrate.current_revision(settings))
    print(f"applied: {current or 'none'}  latest: {migrate.head_revision()}")  # noqa: T201
    return 0 if current == migrate.head_revision() else 1
