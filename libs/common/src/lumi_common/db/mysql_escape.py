"""Parameter escaping for aiomysql with the same output as PyMySQL's, in C-speed string calls.

PyMySQL (under aiomysql) interpolates every parameter into the SQL text in Python: a string goes
through `str.translate` with a 128-entry table (a Python-level lookup per character, and an
internal exception for each non-ASCII one), a datetime through `str.format`. Creating a task
binds ~94 values, and under load py-spy put a large share of the API's CPU there (the figure:
docs/performance.md, "Summary, re-measured on a quiet machine"). `EscapingConnection` answers
the two common types with `str.replace`/`isoformat` (scans in C) and leaves every other type,
and servers in NO_BACKSLASH_ESCAPES mode, to PyMySQL. A test holds the output equal to
PyMySQL's for every code point and for the datetimes we bind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiomysql import Connection

# the server status flag of the MySQL protocol for sql_mode NO_BACKSLASH_ESCAPES, where quotes
# are doubled instead (left to PyMySQL)
NO_BACKSLASH_ESCAPES = 0x0200

# what PyMySQL's table escapes; the backslash first, so no escape is escaped again
_ESCAPES = (
    ("\\", "\\\\"),
    ("\0", "\\0"),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\032", "\\Z"),
    ('"', '\\"'),
    ("'", "\\'"),
)


def escape_string(value: str) -> str:
    if value.isascii() and value.isalnum():  # ids and most enum values: nothing to escape
        return value
    for char, escaped in _ESCAPES:
        if char in value:
            value = value.replace(char, escaped)
    return value


class EscapingConnection(Connection):  # type: ignore[misc]
    def escape(self, obj: object) -> str:
        if type(obj) is str and not self.server_status & NO_BACKSLASH_ESCAPES:
            return "'" + escape_string(obj) + "'"
        # PyMySQL ignores a zone, which isoformat would write: naive only (UtcDateTime binds those)
        if type(obj) is datetime and obj.tzinfo is None:
            return "'" + obj.isoformat(" ") + "'"
        return str(super().escape(obj))


async def connect(**kwargs: Any) -> Connection:
    """What `aiomysql.connect` does, with `EscapingConnection` (SQLAlchemy's `async_creator_fn`)."""
    connection = EscapingConnection(**kwargs)
    await connection._connect()  # aiomysql.connect's own second step
    return connection
