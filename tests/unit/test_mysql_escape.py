"""The connection's parameter escaping gives exactly PyMySQL's output, faster: for every code
point, for the datetimes we bind, and for everything else (left to PyMySQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pymysql.converters import escape_item
from pymysql.converters import escape_string as pymysql_escape_string

from lumi_common.db.mysql_escape import NO_BACKSLASH_ESCAPES, EscapingConnection, escape_string

EVERY_CODE_POINT = "".join(map(chr, range(0x110000)))
SPECIAL = "\\\0\n\r\032\"'"


def test_every_code_point_is_escaped_as_pymysql_does() -> None:
    assert escape_string(EVERY_CODE_POINT) == pymysql_escape_string(EVERY_CODE_POINT)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "01KB3S2X7Y8Z9A0B1C2D3E4F5G",
        "IMAGE_PENDING",
        "一只戴帽子的小猫",
        SPECIAL,
        SPECIAL[::-1],
        "\\\\'\\'",  # escapes next to each other must not be escaped twice
        "a'; DROP TABLE users; --",
        '{"prompt":"猫\\n\\"x\\""}',
        *(f"x{char}y{char}" for char in SPECIAL),
    ],
)
def test_strings_are_escaped_as_pymysql_does(text: str) -> None:
    assert escape_string(text) == pymysql_escape_string(text)


async def connection() -> EscapingConnection:
    """Not connected: `escape` needs only the server status a handshake would have set."""
    conn = EscapingConnection()
    conn.server_status = 0
    return conn


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 29, 2, 20, 1, 123000),
        datetime(2026, 11, 29, 2, 20, 1),
        datetime(1, 1, 1, 0, 0, 0, 1),
        datetime(9999, 12, 31, 23, 59, 59, 999999),
        datetime(2026, 11, 29, 2, 20, 1, 5000, tzinfo=UTC),  # PyMySQL's path: zone dropped
        date(2026, 11, 29),
        0,
        -17,
        1.5,
        Decimal("2.50"),
        None,
        True,
    ],
)
async def test_other_values_are_escaped_as_pymysql_does(value: object) -> None:
    conn = await connection()
    assert conn.escape(value) == escape_item(value, "utf8mb4")


async def test_a_server_without_backslash_escapes_gets_doubled_quotes() -> None:
    conn = await connection()
    conn.server_status = NO_BACKSLASH_ESCAPES
    assert conn.escape("it's a \\ path") == "'it''s a \\ path'"
