"""`lumi dev`: the whole system on one machine (`lumi_api.cli.dev_system`, imported on use)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "dev", help="run the whole system locally (embedded Valkey and SQLite by default)"
    )
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from lumi_api.cli import dev_system

    return dev_system.run(args)
