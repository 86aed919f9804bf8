"""`lumi_common.db.schema` reads the migration history without Alembic; it must say what Alembic
says, and tell a database that is missing, behind or ahead of the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from lumi_common.db.migrate import alembic_config
from lumi_common.db.schema import SchemaState, migration_graph


def test_head_and_revisions_are_alembics() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    head, revisions = migration_graph()
    assert head == scripts.get_current_head()
    assert revisions == {script.revision for script in scripts.walk_revisions()}


def test_states() -> None:
    head, revisions = migration_graph()
    older = next(iter(revisions - {head}))
    assert SchemaState(head, head, revisions).status == "current"
    assert SchemaState(None, head, revisions).status == "missing"
    assert SchemaState(older, head, revisions).status == "behind"
    assert SchemaState("9999_from_the_future", head, revisions).status == "ahead"


def test_merge_revisions_and_several_heads(tmp_path: Path) -> None:
    def migration(name: str, down: str) -> None:
        text = f'revision: str = "{name}"\ndown_revision: str | tuple[str, ...] | None = {down}\n'
        (tmp_path / f"{name}.py").write_text(text)

    migration("a", "None")
    migration("b", '"a"')
    migration("c", '"a"')
    with pytest.raises(RuntimeError, match="2 heads"):
        migration_graph(tmp_path)
    migration("d", '("b", "c")')
    assert migration_graph(tmp_path) == ("d", frozenset("abcd"))
