"""`insert_values`: on MySQL/MariaDB one literal multi-row INSERT sent through the driver, which
must store exactly what SQLAlchemy's own INSERT stores, fail with SQLAlchemy's exceptions and
leave the transaction usable as any failed statement does. Elsewhere the Core statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.bulk import Row, insert_values
from lumi_common.db.tables import OutboxEvent
from lumi_common.ids import new_id
from tests.integration.test_mysql_escape import TRICKY

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(autouse=True)
def mysql_only(database_url: str) -> None:
    """On SQLite `insert_values` is the Core INSERT itself: comparing it with the Core INSERT
    would prove nothing, so the run says it was skipped instead."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite takes the Core INSERT: there is no literal INSERT to compare")


EAST = timezone(timedelta(hours=8))
COLUMNS = ("stream", "key", "payload", "available_at", "attempts", "created_at", "published_at")


def outbox_rows(count: int) -> list[dict[str, Any]]:
    """Rows as the hot paths build them, with every awkward value a client can send."""
    moment = datetime(2026, 11, 29, 3, 4, 5, 123456, tzinfo=UTC)
    return [
        {
            "id": new_id(),
            "stream": "image-jobs",
            "key": TRICKY[index % len(TRICKY)][:40] + " %s %(x)s %%",
            "payload": TRICKY[index % len(TRICKY)],
            "available_at": moment + timedelta(microseconds=index),
            "attempts": index,
            "created_at": moment.astimezone(EAST),  # stored in UTC whatever the zone
            "published_at": None,
        }
        for index in range(count)
    ]


async def stored(sessionmaker: Sessions, ids: list[str]) -> list[tuple[Any, ...]]:
    async with sessionmaker() as session:
        found = await session.execute(
            select(*(getattr(OutboxEvent, name) for name in COLUMNS))
            .where(OutboxEvent.id.in_(ids))
            .order_by(OutboxEvent.attempts)
        )
        return [tuple(row) for row in found]


async def test_the_literal_insert_stores_what_the_core_insert_stores(
    sessionmaker: Sessions,
) -> None:
    ours, core = outbox_rows(len(TRICKY) * 2), outbox_rows(len(TRICKY) * 2)
    for row in core:
        row["id"] = new_id()
    async with sessionmaker.begin() as session:
        await insert_values(session, OutboxEvent, ours)
        await session.execute(insert(OutboxEvent), core)
    written = await stored(sessionmaker, [str(row["id"]) for row in ours])
    expected = await stored(sessionmaker, [str(row["id"]) for row in core])
    assert written == expected
    assert [row[1] for row in written] == [str(row["key"]) for row in ours]  # intact text


async def test_a_refused_row_raises_sqlalchemys_error_and_the_transaction_carries_on(
    sessionmaker: Sessions,
) -> None:
    first, second = outbox_rows(2)
    async with sessionmaker.begin() as session:
        await insert_values(session, OutboxEvent, [first])
    duplicate: Row = {**second, "id": first["id"]}
    async with sessionmaker() as session:
        with pytest.raises(IntegrityError):
            await insert_values(session, OutboxEvent, [second, duplicate])
        await session.rollback()
        # the same connection and session go on as after any failed statement
        await insert_values(session, OutboxEvent, [second])
        await session.commit()
    assert len(await stored(sessionmaker, [str(first["id"]), str(second["id"])])) == 2
