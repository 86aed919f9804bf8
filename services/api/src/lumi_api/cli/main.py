"""Entry point of `lumi`; each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import sys

from lumi_api.cli import calls, db, dev, dlq, relay, streams, tokens


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lumi", description="Operate a Lumi deployment.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (calls, db, dev, dlq, relay, streams, tokens):
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.run(args))


if __name__ == "__main__":
    main()
