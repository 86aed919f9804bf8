"""The operator CLI's start-up budget, guarded by what it imports rather than by timing (times are
in docs/performance.md, "Operator CLI"): `lumi --help` loads none of the heavy libraries, and
parsing any command loads nothing more than `--help` does; each command imports what it needs
when it runs (`lumi streams` and `lumi dlq list` without SQLAlchemy or Alembic:
tests/integration/test_cli_failures.py runs them)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# each costs tens to hundreds of milliseconds of CPU at start-up on the machines we measured
HEAVY = ("sqlalchemy", "alembic", "redis", "pydantic", "pydantic_settings", "aiomysql", "tqdm")


def imported_modules(*argv: str) -> set[str]:
    """The top-level modules a fresh `lumi <argv>` process has imported once parsing is done."""
    script = (
        "import sys\n"
        "from lumi_api.cli.main import build_parser\n"
        f"build_parser().parse_args({list(argv)!r})\n"
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_help_imports_no_heavy_library() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lumi_api.cli.main", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "lumi" in result.stdout  # the help itself
    assert {name.split(".")[0] for name in loaded} & set(HEAVY) == set()


@pytest.mark.parametrize(
    "argv",
    [
        ["streams"],
        ["dlq", "list", "--stream", "image"],
        ["dlq", "replay", "--stream", "image", "--all"],
        ["db", "upgrade"],
        ["doctor"],
        ["token", "create", "--email", "a@example.com"],
        ["completion", "bash"],
        ["calls", "01REQUEST"],
    ],
)
def test_parsing_a_command_imports_none_of_its_work(argv: list[str]) -> None:
    assert imported_modules(*argv) & set(HEAVY) == set()
