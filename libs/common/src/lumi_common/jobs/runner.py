"""The job side of a consumer: one delivered message's job, from claim to recorded outcome.

The job is claimed on its row (compare-and-set, batched with the messages read together), run
by the handler, and whatever the handler returned or raised is recorded: completions (batched),
polls and retries (delayed outbox events), dead letters (FAILED + DLQ). `settle` says when the
outcome is written and the message may be acknowledged. Nothing here knows about Redis reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.group_commit import GroupCommit
from lumi_common.db.tables import JobColumns
from lumi_common.db.transactions import in_transaction
from lumi_common.errors import JobError, PermanentError, RetryableError
from lumi_common.i18n import Text
from lumi_common.jobs.completions import AfterCommit, Completions, Recorder
from lumi_common.jobs.kinds import JobKind
from lumi_common.jobs.lifecycle import Claim, LeaseLost, Refusal
from lumi_common.jobs.outcomes import (
    DeadLetterReason,
    Failure,
    RetryPolicy,
    dead_letter,
    dead_letter_message,
    schedule_poll,
    schedule_retry,
)
from lumi_common.jobs.results import Done, Handler, Outcome, Poll
from lumi_common.messages import JobMessage, UndecodableMessage, encode
from lumi_common.metrics.jobs import JobMetrics
from lumi_common.streams.names import dlq_name
from lumi_common.streams.publish import StreamPublisher
from lumi_common.streams.reader import Delivery

log = structlog.get_logger(__name__)

J = TypeVar("J", bound=JobColumns)
M = TypeVar("M", bound=JobMessage)
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class RunnerRules:
    owner: str  # the consumer's name: the lease owner of what it claims
    retry: RetryPolicy
    max_deliveries: int  # past this, a message is poison (or crashes its worker): dead letter
    claim_batch: int  # at most this many claims per transaction (the consumer's concurrency)


class JobRunner(Generic[J, M, R]):
    def __init__(
        self,
        *,
        rules: RunnerRules,
        sessionmaker: async_sessionmaker[AsyncSession],
        kind: JobKind[J, M],
        handler: Handler[J, M, R],
        publisher: StreamPublisher,
        metrics: JobMetrics,
        on_done: Recorder[J, R] | None = None,
        after_done: AfterCommit[J, R] | None = None,
    ) -> None:
        self.rules = rules
        self.sessionmaker = sessionmaker
        self.kind = kind
        self.handler = handler
        self.metrics = metrics  # one call per outcome, where it is recorded below
        self._publisher = publisher
        self._completions = Completions(
            sessionmaker, kind.lifecycle, on_done, after_commit=after_done
        )
        self._claims: GroupCommit[str, Claim[J] | Refusal] = GroupCommit(
            self._claim_batch, name="claims", max_batch=rules.claim_batch
        )
        self.held: dict[str, Claim[J]] = {}  # by message id: whose leases to renew
        self._held_jobs: set[str] = set()  # claimed and not yet settled: never claimed twice

    async def wait_idle(self) -> None:
        """Until the claims and completions submitted are written (before the engine closes)."""
        await self._claims.wait_idle()
        await self._completions.wait_idle()

    async def renew(self, claims: list[Claim[J]]) -> None:
        """Extend the database leases of jobs being run."""
        async with self.sessionmaker.begin() as session:
            await self.kind.lifecycle.renew(session, claims)

    async def settle(self, delivery: Delivery) -> bool:
        """Handle one delivery; True when its outcome is recorded and it may be acknowledged."""
        message_id, deliveries = delivery.message_id, delivery.deliveries
        try:
            message = self.kind.parse(delivery.data)
        except UndecodableMessage:
            await self._dead_letter_raw(message_id, delivery.data, deliveries)
            return True
        structlog.contextvars.bind_contextvars(
            job_id=message.job_id, trace_id=message.trace_id, attempt=message.attempt
        )
        if deliveries > self.rules.max_deliveries:
            error = f"delivered {deliveries} times without an outcome (poison or crash loop)"
            return await self._fail(message, "delivery_cap", error, "DELIVERY_CAP", deliveries)
        claim = await self._claims.submit(message.job_id)
        if isinstance(claim, Refusal):
            return _refused(claim, deliveries)
        self.held[message_id] = claim
        try:
            return await self._claimed(message, claim, deliveries)
        finally:
            del self.held[message_id]
            self._held_jobs.discard(claim.job_id)

    async def _claimed(self, message: M, claim: Claim[J], deliveries: int) -> bool:
        self.metrics.claimed()
        if claim.attempt != message.attempt:  # the row's count wins over the sender's guess
            structlog.contextvars.bind_contextvars(attempt=claim.attempt)
        if claim.attempt > self.rules.retry.max_attempts:
            error = f"attempt {claim.attempt - 1} stopped without an outcome (the worker died)"
            return await self._fail(
                message, "attempts_exhausted", error, "WORKER_LOST", deliveries, claim=claim
            )
        return await self._run(message, claim, deliveries)

    async def _claim_batch(self, job_ids: list[str]) -> list[Claim[J] | Refusal]:
        """Claim the jobs of the messages read together, and mark them started, in one
        transaction; a job this process runs already (a duplicate delivery) is held."""
        wanted = [job for job in dict.fromkeys(job_ids) if job not in self._held_jobs]

        async def claim(session: AsyncSession) -> dict[str, Claim[J] | Refusal]:
            outcomes = await self.kind.lifecycle.claim_many(session, wanted, self.rules.owner)
            claimed = [claim.job for claim in outcomes.values() if isinstance(claim, Claim)]
            if claimed:
                await self.kind.on_claimed(session, claimed)
            return outcomes

        # a claim run again after it committed takes its own rows again, as a new attempt
        # (`claim_many`): the jobs still run once
        outcomes = await in_transaction(self.sessionmaker, claim, idempotent=True) if wanted else {}
        results: list[Claim[J] | Refusal] = []
        for job_id in job_ids:
            outcome = outcomes.pop(job_id, Refusal.HELD)  # a second copy in one batch: held
            if isinstance(outcome, Claim):
                self._held_jobs.add(job_id)
            results.append(outcome)
        return results

    async def _run(self, message: M, claim: Claim[J], deliveries: int) -> bool:
        started = time.perf_counter()
        log.info("job.started")
        try:
            outcome = await self._handle(message, claim)
            await self._record(message, claim, outcome)
        except LeaseLost:
            log.warning("job.lease_lost")
            return True
        except PermanentError as exc:
            return await self._fail(
                message,
                "permanent_error",
                str(exc),
                exc.code,
                deliveries,
                claim=claim,
                client=exc.client,
            )
        except Exception as exc:  # anything unexpected is retried, then dead-lettered
            code = exc.code if isinstance(exc, RetryableError) else type(exc).__name__
            if not isinstance(exc, RetryableError):
                log.exception("job.crashed")
            client = exc.client if isinstance(exc, JobError) else None
            return await self._retry_or_fail(
                message, claim, str(exc) or repr(exc), code, deliveries, client=client
            )
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        if isinstance(outcome, Poll):
            log.info("job.polling", after_s=outcome.after.total_seconds(), duration_ms=duration_ms)
            self.metrics.polled()
        else:
            log.info("job.completed", duration_ms=duration_ms)
            self.metrics.completed()
        return True

    async def _handle(self, message: M, claim: Claim[J]) -> Outcome[R]:
        started = time.perf_counter()
        try:
            return await self.handler(message, claim)
        finally:
            self.metrics.ran(time.perf_counter() - started)

    async def _record(self, message: M, claim: Claim[J], outcome: Outcome[R]) -> None:
        """Write what the handler returned (raises LeaseLost when the job is no longer ours)."""
        if isinstance(outcome, Done):
            await self._completions.complete(claim, outcome.result, outcome.values)
        elif isinstance(outcome, Poll):

            async def write(session: AsyncSession) -> None:
                await schedule_poll(session, self.kind, claim, message, outcome)

            # again after it committed: the job is parked, no longer this claim's (LeaseLost)
            await in_transaction(self.sessionmaker, write, idempotent=True)
        else:  # an untyped handler: refusing beats leaving the job RUNNING
            raise TypeError(f"a handler returns Done(...) or Poll(...), not {outcome!r}")

    async def _retry_or_fail(
        self,
        message: M,
        claim: Claim[J],
        error: str,
        code: str,
        deliveries: int,
        *,
        client: Text | None = None,
    ) -> bool:
        if self.rules.retry.exhausted(claim.attempt):
            return await self._fail(
                message, "attempts_exhausted", error, code, deliveries, claim=claim, client=client
            )
        delay = self.rules.retry.delay(claim.attempt)

        async def write(session: AsyncSession) -> None:
            await schedule_retry(
                session, self.kind, claim, message, delay=delay, error=error, code=code
            )

        try:  # again after it committed: the job is no longer ours, LeaseLost
            await in_transaction(self.sessionmaker, write, idempotent=True)
        except LeaseLost:
            return True
        self.metrics.retried()
        log.warning("job.retry_scheduled", error=error, code=code, delay_s=round(delay, 2))
        return True

    async def _fail(
        self,
        message: M,
        reason: DeadLetterReason,
        error: str,
        code: str,
        deliveries: int,
        *,
        claim: Claim[J] | None = None,
        client: Text | None = None,
    ) -> bool:
        failure = Failure(
            reason=reason,
            error=error,
            code=code,
            attempts=message.attempt,
            deliveries=deliveries,
            consumer=self.rules.owner,
            client=client,
        )

        async def write(session: AsyncSession) -> bool:
            job = await self.kind.lifecycle.get(session, message.job_id)
            attempts = job.attempt if job is not None else message.attempt
            return await dead_letter(
                session, self.kind, message, replace(failure, attempts=attempts), claim=claim
            )

        # again after it committed: the job is FAILED already, nothing is dead-lettered twice
        failed = await in_transaction(self.sessionmaker, write, idempotent=True)
        if failed:
            self.metrics.dead_lettered(reason)
        log.error("job.dead_lettered" if failed else "job.skipped", reason=reason, error=error)
        return True

    async def _dead_letter_raw(self, message_id: str, data: bytes, deliveries: int) -> None:
        """A message nobody can read has no job row: straight to the DLQ, once per message id."""
        failure = Failure(
            reason="undecodable",
            error="the message is not a job message this worker understands",
            code="UNDECODABLE",
            attempts=0,
            deliveries=deliveries,
            consumer=self.rules.owner,
        )
        raw = data.decode(errors="replace")
        stream = self.kind.stream
        letter = dead_letter_message(stream, failure, job_id=None, original=None, raw=raw)
        await self._publisher.publish(dlq_name(stream), f"raw-{message_id}", encode(letter))
        self.metrics.dead_lettered("undecodable", job_failed=False)
        log.error("job.dead_lettered", reason="undecodable")


def _refused(refusal: Refusal, deliveries: int) -> bool:
    log.info("job.skipped", reason=refusal.value, deliveries=deliveries)
    # a redelivered message whose job someone still holds: its lease may be about to lapse,
    # so leave it pending and look again after the next lease period
    return not (refusal is Refusal.HELD and deliveries > 1)
