"""`lumi db upgrade` builds the schema on MariaDB and SQLite, is a no-op when repeated, and the
migrated schema matches the models exactly (so they cannot drift)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from lumi_common.db import migrate
from lumi_common.db.engine import create_engine
from lumi_common.db.tables import Base
from lumi_common.settings import DatabaseSettings
from tests.support import backends as b


@pytest_asyncio.fixture(params=["sqlite", "mysql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield b.sqlite_url(tmp_path)
        return
    server = b.mysql_server_url()
    if not await b.mysql_reachable(server):
        if b.required():
            pytest.fail("CI=true but MariaDB is not reachable")
        pytest.skip("MariaDB not reachable")
    url = await b.create_mysql_database(server)
    yield url
    await b.drop_mysql_database(url)


async def _inspect(url: str, work: Any) -> Any:
    engine = create_engine(DatabaseSettings(database_url=url), pooled=False)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _snapshot(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {
        table: (
            [c["name"] for c in inspector.get_columns(table)],
            sorted(i["name"] or "" for i in inspector.get_indexes(table)),
        )
        for table in inspector.get_table_names()
    }


async def test_upgrade_builds_the_schema_and_matches_the_models(empty_database: str) -> None:
    settings = DatabaseSettings(database_url=empty_database)
    await migrate.upgrade(settings)
    assert await migrate.current_revision(settings) == migrate.head_revision()
    assert await _inspect(empty_database, _diff) == []


async def test_upgrade_twice_is_a_no_op(empty_database: str) -> None:
    settings = DatabaseSettings(database_url=empty_database)
    await migrate.upgrade(settings)
    before = await _inspect(empty_database, _snapshot)
    await migrate.upgrade(settings)
    assert await _inspect(empty_database, _snapshot) == before
    assert set(before) >= {
        "users",
        "email_codes",
        "auth_tokens",
        "generation_requests",
        "generated_images",
        "image_jobs",
        "models",
        "model_jobs",
        "model_interactions",
        "outbox",
    }


async def test_downgrade_to_base_and_back(empty_database: str) -> None:
    settings = DatabaseSettings(database_url=empty_database)
    await migrate.upgrade(settings)
    await migrate.downgrade(settings, "base")
    assert await migrate.current_revision(settings) is None
    await migrate.upgrade(settings)
    assert await _inspect(empty_database, _diff) == []
