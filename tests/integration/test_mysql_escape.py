"""Values bound through the engine reach the database intact: the escaping the MySQL engine uses
(`lumi_common.db.mysql_escape`) round-trips what clients send, on the real server."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lumi_common.db.mysql_escape import EscapingConnection

TRICKY = [
    "\\\0\n\r\032\"'",
    "\\'; DROP TABLE users; --",
    "一只戴帽子的小猫 🐱 \\n",
    "".join(map(chr, range(1, 0x800))),
    "\\" * 7 + "'" * 3,
]


async def test_tricky_strings_and_datetimes_come_back_as_bound(engine: AsyncEngine) -> None:
    if engine.dialect.name not in ("mysql", "mariadb"):
        pytest.skip("the escaping belongs to the MySQL driver")
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, EscapingConnection)
        for value in TRICKY:
            assert await connection.scalar(text("SELECT :v"), {"v": value}) == value
        moment = datetime(2026, 11, 29, 2, 20, 1, 123000)
        back = await connection.scalar(text("SELECT CAST(:d AS DATETIME(6))"), {"d": moment})
        assert back == moment
