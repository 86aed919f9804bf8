"""Running a unit of work, retried when the database reports a transient conflict or a lost
connection, unless the transaction may have committed (`CommitOutcomeUnknown`)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.errors import CommitOutcomeUnknown

T = TypeVar("T")
log = structlog.get_logger(__name__)

MAX_TRANSACTION_RETRIES = 4
# MySQL/MariaDB: 1213 deadlock, 1205 lock wait timeout, 2006/2013 connection lost (the server
# restarted); SQLite: the busy timeout ran out
_MYSQL_TRANSIENT = {1205, 1213, 2006, 2013}
_MYSQL_LOST = {2006, 2013}


# the server could not be reached or the connection broke (2002/2003 cannot connect, 2006/2013
# lost, 2055 lost at a system error), or it gave up on the statement (1969 max_statement_time)
_MYSQL_OUTAGE = {2002, 2003, 2006, 2013, 2055, 1969}


def is_outage(error: DBAPIError) -> bool:
    """The database was unreachable, too slow or in conflict: the request may succeed later."""
    original = error.orig
    code = original.args[0] if original is not None and original.args else None
    return is_transient(error) or (isinstance(code, int) and code in _MYSQL_OUTAGE)


def is_lost_connection(error: DBAPIError) -> bool:
    original = error.orig
    code = original.args[0] if original is not None and original.args else None
    return error.connection_invalidated or (isinstance(code, int) and code in _MYSQL_LOST)


def is_transient(error: DBAPIError) -> bool:
    original = error.orig
    code = original.args[0] if original is not None and original.args else None
    if error.connection_invalidated or (isinstance(code, int) and code in _MYSQL_TRANSIENT):
        return True
    return "database is locked" in str(original)


async def in_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    idempotent: bool = False,
) -> T:
    """Run `work` in one transaction; on a deadlock, a lock timeout or a lost connection run it
    again from scratch, as long as it cannot have committed.

    A connection lost before the COMMIT was sent rolled the transaction back: running it again is
    safe. One lost during the COMMIT leaves the outcome unknown (the server may have committed
    and the answer got lost): `work` runs again only if it is `idempotent` (running it after it
    committed changes nothing and answers the same); otherwise `CommitOutcomeUnknown`."""
    for attempt in range(1, MAX_TRANSACTION_RETRIES + 1):
        committing = False
        try:
            async with sessionmaker.begin() as session:
                result = await work(session)
                await session.flush()  # what the commit would flush: a failure here is safe
                committing = True
            return result
        except DBAPIError as error:
            if not is_transient(error) or attempt == MAX_TRANSACTION_RETRIES:
                raise
            if committing and is_lost_connection(error) and not idempotent:
                log.error("db.transaction.outcome_unknown", error=str(error.orig))
                raise CommitOutcomeUnknown(headers={"Retry-After": "1"}) from error
            log.warning("db.transaction.retried", attempt=attempt, error=str(error.orig))
            await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")
