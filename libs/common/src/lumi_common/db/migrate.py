"""Alembic migrations run programmatically (`lumi db upgrade`), on MySQL/MariaDB and SQLite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from lumi_common.db.engine import create_engine
from lumi_common.settings import DatabaseSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(settings: DatabaseSettings, revision: str = "head") -> None:
    await _with_connection(settings, lambda conn: _command(conn, "upgrade", revision))


@dataclass
class UpgradeReport:
    start: str | None
    planned: list[str]
    applied: list[str] = field(default_factory=list)
    interrupted: bool = False


async def upgrade_stepwise(
    settings: DatabaseSettings,
    target: str = "head",
    *,
    stop: Callable[[], bool] = lambda: False,
    on_plan: Callable[[list[str]], None] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> UpgradeReport:
    """Apply the pending migrations one at a time, each in its own transaction, asking `stop()`
    between two: an interrupted upgrade stops at a recorded revision and runs again from it."""
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.connect() as connection:
            start, plan = await connection.run_sync(lambda conn: _plan(conn, target))
        if on_plan is not None:
            on_plan(plan)
        report = UpgradeReport(start, plan)
        for revision in plan:
            if stop():
                report.interrupted = True
                break
            async with engine.begin() as connection:
                await connection.run_sync(_command, "upgrade", revision)
            report.applied.append(revision)
            if on_step is not None:
                on_step(revision)
        return report
    finally:
        await engine.dispose()


def _plan(connection: Connection, target: str) -> tuple[str | None, list[str]]:
    """The applied revision and the ones to apply, oldest first."""
    current = MigrationContext.configure(connection).get_current_revision()
    scripts = ScriptDirectory.from_config(alembic_config())
    pending = [script.revision for script in scripts.iterate_revisions(target, current)]
    return current, pending[::-1]


async def downgrade(settings: DatabaseSettings, revision: str) -> None:
    await _with_connection(settings, lambda conn: _command(conn, "downgrade", revision))


async def current_revision(settings: DatabaseSettings) -> str | None:
    result: list[str | None] = []

    def read(conn: Connection) -> None:
        result.append(MigrationContext.configure(conn).get_current_revision())

    await _with_connection(settings, read)
    return result[0]


def _command(connection: Connection, name: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, name)(config, revision)


async def _with_connection(settings: DatabaseSettings, work: object) -> None:
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(work)  # type: ignore[arg-type]
    finally:
        await engine.dispose()
