"""Alembic migrations run programmatically (`lumi db upgrade`), on MySQL/MariaDB and SQLite."""

from __future__ import annotations

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
