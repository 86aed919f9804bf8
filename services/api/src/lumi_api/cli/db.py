"""`lumi db upgrade|current`: schema migrations on the configured database.

`upgrade` applies one migration at a time, each in its own transaction, with progress; Ctrl-C
stops it between two migrations, at a recorded revision, and running it again carries on.
"""

from __future__ import annotations

import argparse
from typing import Any

from lumi_api.cli.errors import ExitCode, run_async


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("db", help="database schema")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="migrate to the latest (or given) revision")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.add_argument("--json", action="store_true", help="JSON for scripts, no progress")
    upgrade.set_defaults(run=run_async(_upgrade))
    current = actions.add_parser(
        "current", help="print the applied and the latest revision (exit 5 unless up to date)"
    )
    current.add_argument("--json", action="store_true", help="JSON for scripts")
    current.set_defaults(run=run_async(_current))


async def _upgrade(args: argparse.Namespace) -> int:
    from lumi_api.cli import context
    from lumi_api.cli.progress import mode_for, progress, stop_on_interrupt
    from lumi_common.db import migrate, probe
    from lumi_common.settings import DatabaseSettings

    settings = context.load(DatabaseSettings)
    if not settings.is_sqlite:  # SQLite creates its file; a server must answer first
        async with probe.connect(settings):
            pass
    mode = mode_for(as_json=args.json)
    with (
        stop_on_interrupt("migration") as stop,
        progress("db upgrade", 0, unit="migrations", mode=mode) as bar,
    ):
        report = await migrate.upgrade_stepwise(
            settings,
            args.revision,
            stop=stop,
            on_plan=lambda plan: bar.start(len(plan)),
            on_step=lambda _: bar.advance(),
        )
    now = report.applied[-1] if report.applied else report.start
    if args.json:
        context.print_json(
            {
                "from": report.start,
                "to": now,
                "applied": report.applied,
                "interrupted": report.interrupted,
            }
        )
    elif report.interrupted:
        left = len(report.planned) - len(report.applied)
        context.say(
            f"interrupted: database at revision {now} ({left} migrations left);"
            " run `lumi db upgrade` again to continue"
        )
    elif report.applied:
        context.say(f"database at revision {now} (applied {', '.join(report.applied)})")
    else:
        context.say(f"database already at revision {now}")
    return ExitCode.INTERRUPTED if report.interrupted else ExitCode.OK


async def _current(args: argparse.Namespace) -> int:
    from lumi_api.cli import context
    from lumi_common.db import probe
    from lumi_common.settings import DatabaseSettings

    settings = context.load(DatabaseSettings)
    try:
        async with probe.connect(settings) as connection:
            state = await connection.schema()
    except probe.SchemaNotReady as error:  # an SQLite file not created yet
        state = error.state
    if args.json:
        context.print_json({"applied": state.current, "latest": state.head, "status": state.status})
    else:
        context.say(f"applied: {state.current or 'none'}  latest: {state.head}  ({state.status})")
    return ExitCode.OK if state.status == "current" else ExitCode.SCHEMA
