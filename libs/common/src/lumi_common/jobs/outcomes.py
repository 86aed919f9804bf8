"""The outcomes the runtime writes besides a completion (`completions`), each in one transaction
with its outbox event: a poll later (RUNNING, parked + a delayed message), a retry later
(RETRYING + a delayed message) or a dead letter (FAILED + a DLQ entry)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import JobColumns
from lumi_common.i18n import Text
from lumi_common.jobs.kinds import JobKind
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.results import Poll
from lumi_common.messages import DeadLetter, JobMessage, with_attempt
from lumi_common.outbox.writer import add_event
from lumi_common.streams.names import dlq_name
from lumi_common.time import iso_ms, utcnow

J = TypeVar("J", bound=JobColumns)
M = TypeVar("M", bound=JobMessage)
DeadLetterReason = Literal["permanent_error", "attempts_exhausted", "delivery_cap", "undecodable"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: spreads retries of a burst of failures."""
        ceiling = min(self.max_seconds, self.base_seconds * float(2 ** (attempt - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


async def schedule_poll(
    session: AsyncSession, kind: JobKind[J, M], claim: Claim[J], message: M, poll: Poll
) -> None:
    """Park the job until `poll.after` from now and send its next message then (same attempt)."""
    at = utcnow() + poll.after
    await kind.lifecycle.park(session, claim, until=at, **poll.values)
    await kind.on_progress(session, claim.job)
    again = with_attempt(message, claim.attempt)
    add_event(session, stream=kind.stream, key=claim.job_id, message=again, available_at=at)


async def schedule_retry(
    session: AsyncSession,
    kind: JobKind[J, M],
    claim: Claim[J],
    message: M,
    *,
    delay: float,
    error: str,
    code: str,
) -> None:
    at = utcnow() + timedelta(seconds=delay)
    await kind.lifecycle.retry(session, claim, at=at, error=error, code=code)
    add_event(
        session,
        stream=kind.stream,
        key=claim.job_id,
        message=with_attempt(message, claim.attempt + 1),
        available_at=at,
    )


@dataclass(frozen=True, slots=True)
class Failure:
    reason: DeadLetterReason
    error: str  # the raw error: job row, dead letter and log (operators)
    code: str  # the client is shown this code's sentence (`client_errors`), never `error`
    attempts: int
    deliveries: int
    consumer: str
    # the failure's own sentence for the client (`JobError.client`), instead of its code's
    client: Text | None = None


async def dead_letter(
    session: AsyncSession,
    kind: JobKind[J, M],
    message: M,
    failure: Failure,
    *,
    claim: Claim[J] | None = None,
) -> bool:
    """Fail the job (the one `claim` holds, if given) and queue its dead letter; False when the
    job was not ours to fail."""
    job = await kind.lifecycle.fail(
        session,
        message.job_id,
        owner=failure.consumer,
        claim=claim,
        error=failure.error,
        code=failure.code,
    )
    if job is None:
        return False
    # imported here, not at the top, only so that this change merges with the runtime rework
    # (issue 13) that rewrites the imports above; move it up once both are on main
    from lumi_common.i18n import stored
    from lumi_common.jobs.client_errors import for_code

    # the request, image, model or slice shows the client the failure's sentence, else its
    # code's (in the reader's language, rendered when read), never the raw error
    sentence = failure.client or for_code(failure.code, kind.failed_message)
    await kind.on_failed(session, job, stored(sentence))
    add_event(
        session,
        stream=dlq_name(kind.stream),
        key=message.job_id,
        message=dead_letter_message(kind.stream, failure, job_id=message.job_id, original=message),
    )
    return True


def dead_letter_message(
    stream: str,
    failure: Failure,
    *,
    job_id: str | None,
    original: JobMessage | None,
    raw: str | None = None,
) -> DeadLetter:
    trace = {"trace_id": original.trace_id} if original else {}
    return DeadLetter(
        **trace,
        stream=stream,
        job_id=job_id,
        original=original.model_dump(mode="json") if original else None,
        raw=raw,
        reason=failure.reason,
        error=failure.error,
        error_code=failure.code,
        attempts=failure.attempts,
        deliveries=failure.deliveries,
        consumer=failure.consumer,
        failed_at=iso_ms(utcnow()),
    )
