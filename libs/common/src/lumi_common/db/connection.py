"""The MariaDB connections of a service's pool: PyMySQL's escaping made fast (`mysql_escape`) and
a deadline on every answer from the server.

aiomysql has no read timeout: a hung server (stopped, a dead host whose connections are not
reset) holds every statement, and the request waiting on it, forever, and the pool's other
callers behind it. With `answer_timeout` a read that waits longer closes the connection and
raises what a lost connection raises (2013), so SQLAlchemy discards it from the pool, a
transaction that had not sent its COMMIT runs again (`in_transaction`), and a request answers 503.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymysql.constants import CR
from pymysql.err import OperationalError

from lumi_common.db.mysql_escape import EscapingConnection


class DeadlineConnection(EscapingConnection):
    answer_timeout: float | None = None

    async def _read_bytes(self, num_bytes: int) -> bytes:
        data: bytes
        # most reads find their bytes buffered already (a packet's body after its header): they
        # cannot wait, so they cost no timer
        if self.answer_timeout is None or len(self._reader._buffer) >= num_bytes:
            data = await super()._read_bytes(num_bytes)
            return data
        try:
            async with asyncio.timeout(self.answer_timeout):
                data = await super()._read_bytes(num_bytes)
                return data
        except TimeoutError as exc:
            self.close()
            raise OperationalError(
                CR.CR_SERVER_LOST,
                f"Lost connection to MySQL server: no answer within {self.answer_timeout} s",
            ) from exc


async def connect(*, answer_timeout: float | None = None, **kwargs: Any) -> DeadlineConnection:
    """What `aiomysql.connect` does, with `DeadlineConnection` (SQLAlchemy's `async_creator_fn`);
    connecting waits at most `answer_timeout` too."""
    if answer_timeout is not None:
        kwargs.setdefault("connect_timeout", answer_timeout)
    connection = DeadlineConnection(**kwargs)
    connection.answer_timeout = answer_timeout
    await connection._connect()  # aiomysql.connect's own second step
    return connection
