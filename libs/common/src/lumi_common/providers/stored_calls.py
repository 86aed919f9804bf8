"""Provider calls as rows of `provider_calls`, each in its own short transaction: a record never
rides in (or aborts) the transaction of the job's outcome."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import ProviderCallRecord
from lumi_common.providers.calls import ProviderCall

log = structlog.get_logger()


class StoredCalls:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def record(self, call: ProviderCall) -> None:
        scope = call.scope
        row = ProviderCallRecord(
            request_id=scope.request_id if scope else None,
            job_id=scope.job_id if scope else None,
            stage=scope.stage if scope else "unknown",
            provider=call.provider,
            model=(call.model or None) and call.model[:64],
            operation=call.operation,
            outcome=call.outcome,
            duration_ms=call.duration_ms,
            cost=call.cost,
            cost_unit=call.cost_unit,
            provider_job_id=call.provider_job_id,
            error=call.error,
        )
        try:
            async with self._sessionmaker.begin() as session:
                session.add(row)
        except SQLAlchemyError as error:
            # the call happened either way; a lost record must not turn its outcome into another
            log.warning(
                "provider.call_not_recorded", provider=call.provider, error=str(error)[:200]
            )
