"""The migration history as data: the head revision and every known one, read from the migration
files' `revision` / `down_revision` lines without importing Alembic.

Alembic's `ScriptDirectory` imports Alembic, SQLAlchemy and every migration module (most of a
CLI's start budget; docs/performance.md, "Operator CLI") to answer the same question; a test
holds this answer equal to Alembic's (`tests/unit/test_schema_revisions.py`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)
Status = Literal["current", "missing", "behind", "ahead"]


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str
    revisions: frozenset[str]

    @property
    def status(self) -> Status:
        """`missing`: no tables yet; `behind`: an older revision of this code's history;
        `ahead`: a revision this code does not know (the database was migrated by newer code)."""
        if self.current == self.head:
            return "current"
        if self.current is None:
            return "missing"
        return "behind" if self.current in self.revisions else "ahead"

    def __str__(self) -> str:
        return f"at {self.current or 'no revision'}, this code's head is {self.head}"


@cache
def migration_graph(directory: Path = VERSIONS_DIR) -> tuple[str, frozenset[str]]:
    """The head revision and all revisions of the migration files in `directory`."""
    parents: dict[str, set[str]] = {}
    for path in sorted(directory.glob("*.py")):
        values = dict(_ASSIGNMENT.findall(path.read_text(encoding="utf-8")))
        if "revision" not in values:
            continue
        down = ast.literal_eval(values.get("down_revision", "None"))
        parents[ast.literal_eval(values["revision"])] = (
            set() if down is None else {down} if isinstance(down, str) else set(down)
        )
    referenced = set().union(*parents.values()) if parents else set()
    heads = sorted(set(parents) - referenced)
    if len(heads) != 1:
        raise RuntimeError(f"the migrations in {directory} have {len(heads)} heads: {heads}")
    return heads[0], frozenset(parents)
