"""Every call to a hosted provider, recorded: who was asked what, for which request, how long it
took, how it ended and what it cost where the provider says.

Adapters wrap each call in `CallLog.track(...)`; the handler of a job sets the `call_scope`
(request, job, stage) once, so adapters need not know about requests. What happens to a record
is up to the recorders: a row in `provider_calls` (read by `lumi requests calls`), a log line
— add one by implementing `CallRecorder`. Every call is also observed in the
`lumi_provider_call_duration_seconds` histogram, whatever the recorders.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.metrics.series import PROVIDER_CALL_DURATION
from lumi_common.providers.errors import ContentRefused, RateLimited, ResultExpired

log = structlog.get_logger()
MAX_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class CallScope:
    stage: str  # "image", "model", "prompt"
    request_id: str | None = None
    job_id: str | None = None


_SCOPE: ContextVar[CallScope | None] = ContextVar("provider_call_scope", default=None)


@contextmanager
def call_scope(stage: str, *, request_id: str | None, job_id: str | None) -> Iterator[None]:
    token = _SCOPE.set(CallScope(stage=stage, request_id=request_id, job_id=job_id))
    try:
        yield
    finally:
        _SCOPE.reset(token)


@dataclass(frozen=True, slots=True)
class ProviderCall:
    provider: str
    operation: str  # "submit", "poll", "download", "generate", "variants", ...
    model: str | None
    outcome: str  # "ok", "rate_limited", "refused", "expired", "retryable_error", "failed"
    duration_ms: int
    scope: CallScope | None
    cost: float | None = None
    cost_unit: str | None = None  # "credits", "images", "tokens"
    provider_job_id: str | None = None
    error: str | None = None


@dataclass(slots=True)
class Tracked:
    """What an adapter learns during a call and wants on its record."""

    cost: float | None = None
    cost_unit: str | None = None
    provider_job_id: str | None = None


class CallRecorder(Protocol):
    async def record(self, call: ProviderCall) -> None: ...


class LoggedCalls:
    """A log line per call: `provider.call_completed` with every field of the record."""

    async def record(self, call: ProviderCall) -> None:
        scope = call.scope or CallScope(stage="unknown")
        log.info(
            "provider.call_completed",
            provider=call.provider,
            operation=call.operation,
            model=call.model,
            outcome=call.outcome,
            duration_ms=call.duration_ms,
            cost=call.cost,
            cost_unit=call.cost_unit,
            provider_job_id=call.provider_job_id,
            stage=scope.stage,
            request_id=scope.request_id,
            job_id=scope.job_id,
            error=call.error,
        )


@dataclass(frozen=True, slots=True)
class CallLog:
    recorders: tuple[CallRecorder, ...] = field(default_factory=lambda: (LoggedCalls(),))

    @asynccontextmanager
    async def track(
        self, provider: str, operation: str, *, model: str | None
    ) -> AsyncIterator[Tracked]:
        started, tracked = time.perf_counter(), Tracked()
        try:
            yield tracked
        except (RetryableError, PermanentError) as error:
            await self._record(provider, operation, model, started, tracked, error)
            raise
        await self._record(provider, operation, model, started, tracked, None)

    async def _record(
        self,
        provider: str,
        operation: str,
        model: str | None,
        started: float,
        tracked: Tracked,
        error: Exception | None,
    ) -> None:
        call = ProviderCall(
            provider=provider,
            operation=operation,
            model=model,
            outcome=outcome_of(error),
            duration_ms=round((time.perf_counter() - started) * 1000),
            scope=_SCOPE.get(),
            cost=tracked.cost,
            cost_unit=tracked.cost_unit,
            provider_job_id=tracked.provider_job_id,
            error=None if error is None else _detail(error)[:MAX_ERROR_CHARS],
        )
        PROVIDER_CALL_DURATION.labels(provider, operation, call.outcome).observe(
            call.duration_ms / 1000
        )
        for recorder in self.recorders:
            await recorder.record(call)


def _detail(error: Exception) -> str:
    # a refusal's message is the client's sentence; the record keeps the provider's words
    detail = getattr(error, "detail", None)
    return detail if isinstance(detail, str) else str(error)


def outcome_of(error: Exception | None) -> str:
    if error is None:
        return "ok"
    for kind, name in (
        (RateLimited, "rate_limited"),
        (ContentRefused, "refused"),
        (ResultExpired, "expired"),
        (RetryableError, "retryable_error"),
    ):
        if isinstance(error, kind):
            return name
    return "failed"
