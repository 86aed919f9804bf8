"""Entry point of `lumi`; each command lives in its own module.

Start-up is kept short (docs/performance.md, "Operator CLI"): this module and the commands'
`register` functions import only the standard library, and each command imports what it needs
when it runs, so `lumi --help` loads no SQLAlchemy, Alembic, Redis or pydantic
(tests/unit/test_cli_imports.py holds that).

Every failure ends as one line on stderr, `lumi: <problem>; <fix>`, and an exit code per class
(`lumi_api.cli.errors.ExitCode`); `--debug` (or `LUMI_DEBUG=1`) prints the traceback first.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from lumi_api.cli import calls, completion, db, dev, dlq, doctor, relay, streams, tokens
from lumi_api.cli.errors import MEANINGS, CliError, ExitCode, from_exception

COMMANDS = (calls, db, dev, dlq, doctor, relay, streams, tokens, completion)


class Parser(argparse.ArgumentParser):
    """Usage errors as one line (argparse prints the whole usage first) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise CliError(ExitCode.USAGE, message, f"see `{self.prog} --help`")


def build_parser() -> Parser:
    epilog = "exit codes:\n" + "\n".join(f"  {int(c):>3}  {m}" for c, m in MEANINGS.items())
    parser = Parser(
        prog="lumi",
        description="Operate a Lumi deployment (the environment of the services configures it).",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on failure, print the traceback (anywhere in the command)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(commands)
    return parser


def run(argv: list[str]) -> int:
    """The exit code of `lumi <argv>`; never raises, except SystemExit from `--help`."""
    debug = "--debug" in argv or os.environ.get("LUMI_DEBUG", "") not in ("", "0")
    argv = [arg for arg in argv if arg != "--debug"]
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except CliError as error:
        return _fail(error, error if debug else None)
    except KeyboardInterrupt as interrupt:
        problem = CliError(ExitCode.INTERRUPTED, "interrupted", "nothing was left half done")
        return _fail(problem, interrupt if debug else None)
    except Exception as error:  # noqa: BLE001 - the process boundary: one line, a class, a code
        return _fail(from_exception(error), error if debug else None)


def _fail(error: CliError, traceback_of: BaseException | None) -> int:
    if traceback_of is not None:
        import traceback

        traceback.print_exception(traceback_of)
    sys.stderr.write(error.line() + "\n")
    return int(error.code)


def main(argv: list[str] | None = None) -> NoReturn:
    sys.exit(run(list(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
