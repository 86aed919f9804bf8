"""Every exit code of `lumi` is documented where operators look: `lumi --help` and
docs/operations.md."""

from __future__ import annotations

import re
from pathlib import Path

from lumi_api.cli.errors import MEANINGS, ExitCode
from lumi_api.cli.main import build_parser

OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"


def test_every_code_has_a_meaning_in_help_and_docs() -> None:
    assert set(MEANINGS) == set(ExitCode)
    help_text = build_parser().format_help()
    documented = set(re.findall(r"^\| `(\d+)` \|", OPERATIONS.read_text(), re.MULTILINE))
    for code in ExitCode:
        assert re.search(rf"^\s+{int(code)}\s+\S", help_text, re.MULTILINE), code
        assert str(int(code)) in documented, f"exit code {int(code)} not in {OPERATIONS.name}"
