"""The consumer runtime, written once for every stream.

A `Consumer` reads its stream through a consumer group, never holding more messages than it has
free slots. It claims each job on its row (compare-and-set), runs the handler while renewing the
job's lease in Redis and in the database, and records the outcome: the handler commits success
itself; the runtime writes retries (delayed outbox events) and dead letters (FAILED + DLQ entry).
Only then is the message acknowledged, so a crash at any point leaves it pending, and the next
delivery finds either the job to resume or nothing to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.group_commit import GroupCommit
from lumi_common.db.transactions import in_transaction
from lumi_common.errors import PermanentError, RetryableError
from lumi_common.jobs.kinds import JobKind
from lumi_common.jobs.lifecycle import Claim, LeaseLost, Refusal
from lumi_common.jobs.outcomes import (
    DeadLetterReason,
    Failure,
    RetryPolicy,
    dead_letter,
    dead_letter_message,
    schedule_retry,
)
from lumi_common.messages import JobMessage, UndecodableMessage, decode, encode
from lumi_common.metrics.jobs import NO_PROVIDER, JobMetrics
from lumi_common.redis_client import RedisClient
from lumi_common.streams.names import dlq_name, group_name, stream_key
from lumi_common.streams.publish import DATA_FIELD, StreamPublisher
from lumi_common.streams.ratelimit import MinuteLimiter

log = structlog.get_logger(__name__)

Handler = Callable[[JobMessage, Claim], Awaitable[None]]
Entry = tuple[str, dict[bytes, bytes], int]  # message id, fields, deliveries
MAX_READ_BACKOFF_SECONDS = 5.0
# how often to look for messages whose consumer died: they become claimable only after a whole
# lease, so looking on every read (a round trip per loop turn) buys nothing
RECLAIM_EVERY_SECONDS = 1.0


def unique_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    key_prefix: str
    stream: str
    concurrency: int
    lease_seconds: float
    retry: RetryPolicy
    max_deliveries: int
    jobs_per_minute: int = 0
    block_ms: int = 2000
    shutdown_grace_seconds: float = 30.0
    name: str = field(default_factory=unique_consumer_name)
    provider: str = NO_PROVIDER  # the provider the handler calls, a label of the job metrics


class Consumer:
    def __init__(
        self,
        *,
        config: ConsumerConfig,
        redis: RedisClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        kind: JobKind,
        handler: Handler,
    ) -> None:
        self.config = config
        self.redis = redis
        self.sessionmaker = sessionmaker
        self.kind = kind
        self.handler = handler
        self.key = stream_key(config.key_prefix, config.stream)
        self.group = group_name(config.stream)
        self.stop_event = asyncio.Event()
        self.last_tick = time.monotonic()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._held: dict[str, Claim] = {}  # by message id
        self._held_jobs: set[str] = set()  # claimed and not yet settled: never claimed twice
        self._claims: GroupCommit[str, Claim | Refusal] = GroupCommit(
            self._claim_batch, name="claims", max_batch=config.concurrency
        )
        self._reclaim_cursor = "0-0"
        self._unacked: list[str] = []
        self._acking = False
        self._next_reclaim = 0.0
        self._limiter = MinuteLimiter(redis, f"{self.key}:rate", config.jobs_per_minute)
        self._publisher = StreamPublisher(redis, config.key_prefix)
        # every outcome is recorded once, here in the runtime (one call each, below)
        self.metrics = JobMetrics(stream=config.stream, provider=config.provider)

    # -- life cycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        self.stop_event.set()

    def healthy(self) -> bool:
        """Alive while the read loop keeps turning (it wakes at least every block interval)."""
        return time.monotonic() - self.last_tick < max(10.0, 5 * self.config.block_ms / 1000)

    async def run(self, *, burst: bool = False) -> None:
        """Consume until stopped; in burst mode, until the stream has nothing left for us."""
        log.info(
            "consumer.started",
            stream=self.key,
            group=self.group,
            consumer=self.config.name,
            concurrency=self.config.concurrency,
            burst=burst,
        )
        await self._ensure_group()
        self._next_reclaim = 0.0  # look for abandoned messages first
        renewer = asyncio.create_task(self._renew_leases())
        try:
            await self._loop(burst)
        finally:
            await self._drain()
            await self._claims.wait_idle()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            log.info("consumer.stopped", consumer=self.config.name)

    async def _loop(self, burst: bool) -> None:
        backoff = 0.0
        while not self.stop_event.is_set():
            self.last_tick = time.monotonic()
            free = self.config.concurrency - len(self._tasks)
            if free <= 0:
                await self._wait_for_a_slot()
                continue
            try:
                entries = await self._next_entries(free, burst)
            except RedisError as exc:
                backoff = min(MAX_READ_BACKOFF_SECONDS, max(0.1, backoff * 2))
                log.warning("consumer.read.failed", error=repr(exc), retry_in_s=backoff)
                await self._sleep(backoff)
                continue
            backoff = 0.0
            if entries is None:
                continue  # the rate limit is used up: look again (the loop keeps turning)
            for entry in entries:
                self._start(entry)
            if burst and not entries:
                if not self._tasks:
                    return
                await self._wait_for_a_slot()  # our own jobs are running: wait, do not poll

    async def _next_entries(self, free: int, burst: bool) -> list[Entry] | None:
        """Up to `free` messages to start; None while the rate limit allows none."""
        permits = await self._limiter.acquire(free, self.stop_event)
        if permits == 0:
            return None
        entries = await self._reclaim(permits) if self._reclaim_due() else []
        if not entries:
            # in burst mode, wait only briefly, and not at all while our own work is running
            block = None if burst and self._tasks else 50 if burst else self.config.block_ms
            entries = await self._read(permits, block)
        await self._limiter.refund(permits - len(entries))
        return entries

    async def _wait_for_a_slot(self) -> None:
        stopped = asyncio.create_task(self.stop_event.wait())
        try:
            await asyncio.wait(
                [*self._tasks.values(), stopped],
                timeout=self.config.block_ms / 1000,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopped.cancel()  # one per wait: left running, they would pile up until shutdown

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop_event.wait(), seconds)

    async def _drain(self) -> None:
        """Give in-flight jobs the grace period; what is left stays pending for others."""
        if not self._tasks:
            return
        log.info("consumer.draining", in_flight=len(self._tasks))
        _, pending = await asyncio.wait(
            list(self._tasks.values()), timeout=self.config.shutdown_grace_seconds
        )
        for task in pending:
            task.cancel()
        if pending:
            log.warning("consumer.drain.cancelled", left_pending=len(pending))
            await asyncio.wait(pending)

    # -- reading ------------------------------------------------------------------------------

    async def _ensure_group(self) -> None:
        try:
            # from the stream's start: the relay may have published before any worker existed
            await self.redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, count: int, block_ms: int | None) -> list[Entry]:
        try:
            response: Any = await self.redis.xreadgroup(
                self.group, self.config.name, {self.key: ">"}, count=count, block=block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("consumer.group.recreated", stream=self.key)  # Redis lost its data
            await self._ensure_group()
            return []
        return [
            (message_id.decode(), fields, 1)
            for _, messages in response or []
            for message_id, fields in messages
        ]

    def _reclaim_due(self) -> bool:
        """Now and then, and on every turn while a scan of the pending list is under way."""
        now = time.monotonic()
        if self._reclaim_cursor == "0-0" and now < self._next_reclaim:
            return False
        self._next_reclaim = now + min(RECLAIM_EVERY_SECONDS, self.config.lease_seconds / 4)
        return True

    async def _reclaim(self, count: int) -> list[Entry]:
        """Take over messages whose consumer stopped renewing them (it died)."""
        try:
            reply: list[Any] = await self.redis.xautoclaim(
                self.key,
                self.group,
                self.config.name,
                min_idle_time=int(self.config.lease_seconds * 1000),
                start_id=self._reclaim_cursor,
                count=count,
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._ensure_group()
            return []
        cursor, claimed, deleted = reply[0], reply[1], reply[2]
        self._reclaim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        if deleted:  # trimmed away while pending: nothing to run
            await self.redis.xack(self.key, self.group, *deleted)
        entries = [(mid.decode(), fields, 0) for mid, fields in claimed if fields]
        if not entries:
            return []
        counts = await self._delivery_counts([mid for mid, _, _ in entries])
        log.info("consumer.reclaimed", count=len(entries), consumer=self.config.name)
        return [(mid, fields, counts.get(mid, 1)) for mid, fields, _ in entries]

    async def _delivery_counts(self, message_ids: list[str]) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for message_id in message_ids:
                pipe.xpending_range(self.key, self.group, min=message_id, max=message_id, count=1)
            replies = await pipe.execute()
        return {
            item["message_id"].decode(): int(item["times_delivered"])
            for reply in replies
            for item in reply
        }

    # -- leases -------------------------------------------------------------------------------

    async def _renew_leases(self) -> None:
        interval = self.config.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            held = dict(self._held)
            if held:
                await self._renew(held)

    async def _renew(self, held: dict[str, Claim]) -> None:
        # The job's lease in the database keeps other consumers and the reconciler off a healthy
        # job, so it is renewed on its own: a Redis outage must not let it lapse. It goes first,
        # so the message's idle time (reset below) never runs out before the job's lease does.
        try:
            async with self.sessionmaker.begin() as session:
                jobs = [claim.job_id for claim in held.values()]
                await self.kind.lifecycle.renew(session, jobs, self.config.name)
        except (OSError, SQLAlchemyError) as exc:  # the job decides its outcome
            log.warning("consumer.lease.renew_failed", error=repr(exc), held=len(held))
        try:
            await self.redis.xclaim(
                self.key, self.group, self.config.name, 0, list(held), justid=True
            )
        except (RedisError, OSError) as exc:
            log.warning("consumer.message.renew_failed", error=repr(exc), held=len(held))

    # -- one message --------------------------------------------------------------------------

    def _start(self, entry: Entry) -> None:
        message_id = entry[0]
        task = asyncio.create_task(self._process(entry))
        self._tasks[message_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(message_id, None))

    async def _process(self, entry: Entry) -> None:
        message_id, fields, deliveries = entry
        with structlog.contextvars.bound_contextvars(stream=self.key, message_id=message_id):
            try:
                settled = await self._settle(message_id, fields, deliveries)
            except (RedisError, OSError) as exc:
                log.warning("consumer.message.unsettled", error=repr(exc))
                return  # stays pending; redelivered after the lease
            except Exception:  # the message boundary: never let one message stop the consumer
                log.exception("consumer.message.crashed")
                return
            finally:
                claim = self._held.pop(message_id, None)
                if claim is not None:
                    self._held_jobs.discard(claim.job_id)
            if settled:
                await self._ack(message_id)

    async def _ack(self, message_id: str) -> None:
        """Acknowledge, coalesced: while one XACK is in flight, the messages settled meanwhile
        wait for the next one, sent by the same task, so a busy consumer acks in batches."""
        self._unacked.append(message_id)
        if self._acking:
            return
        self._acking = True
        try:
            while self._unacked:
                batch, self._unacked = self._unacked, []
                try:
                    await self.redis.xack(self.key, self.group, *batch)
                except RedisError as exc:  # a later delivery finds the outcome and acks then
                    log.warning("consumer.ack.failed", error=repr(exc), count=len(batch))
        finally:
            self._acking = False

    async def _settle(self, message_id: str, fields: dict[bytes, bytes], deliveries: int) -> bool:
        """Handle one delivery; True when its outcome is recorded and it may be acknowledged."""
        message = self._decode(fields)
        if message is None:
            await self._dead_letter_raw(message_id, fields, deliveries)
            return True
        structlog.contextvars.bind_contextvars(
            job_id=message.job_id, trace_id=message.trace_id, attempt=message.attempt
        )
        if deliveries > self.config.max_deliveries:
            error = f"delivered {deliveries} times without an outcome (poison or crash loop)"
            return await self._fail(message, "delivery_cap", error, "DELIVERY_CAP", deliveries)
        claim = await self._claims.submit(message.job_id)
        if isinstance(claim, Refusal):
            return self._refused(claim, deliveries)
        self._held[message_id] = claim
        self.metrics.claimed()
        structlog.contextvars.bind_contextvars(attempt=claim.attempt)
        if claim.attempt > self.config.retry.max_attempts:
            error = f"attempt {claim.attempt - 1} stopped without an outcome (the worker died)"
            return await self._fail(message, "attempts_exhausted", error, "WORKER_LOST", deliveries)
        return await self._run(message, claim, deliveries)

    async def _claim_batch(self, job_ids: list[str]) -> list[Claim | Refusal]:
        """Claim the jobs of the messages read together, and mark them started, in one
        transaction; a job this process runs already (a duplicate delivery) is held."""
        wanted = [job for job in dict.fromkeys(job_ids) if job not in self._held_jobs]

        async def claim(session: AsyncSession) -> dict[str, Claim | Refusal]:
            outcomes = await self.kind.lifecycle.claim_many(session, wanted, self.config.name)
            claimed = [claim.job for claim in outcomes.values() if isinstance(claim, Claim)]
            if claimed:
                await self.kind.on_claimed(session, claimed)
            return outcomes

        # a claim run again after it committed takes its own rows again, as a new attempt
        # (`claim_many`): the jobs still run once
        outcomes = await in_transaction(self.sessionmaker, claim, idempotent=True) if wanted else {}
        results: list[Claim | Refusal] = []
        for job_id in job_ids:
            outcome = outcomes.pop(job_id, Refusal.HELD)  # a second copy in one batch: held
            if isinstance(outcome, Claim):
                self._held_jobs.add(job_id)
            results.append(outcome)
        return results

    def _decode(self, fields: dict[bytes, bytes]) -> JobMessage | None:
        try:
            return self.kind.parse(decode(fields.get(DATA_FIELD, b"")))
        except UndecodableMessage:
            return None

    def _refused(self, refusal: Refusal, deliveries: int) -> bool:
        log.info("job.skipped", reason=refusal.value, deliveries=deliveries)
        # a redelivered message whose job someone still holds: its lease may be about to lapse,
        # so leave it pending and look again after the next lease period
        return not (refusal is Refusal.HELD and deliveries > 1)

    async def _run(self, message: JobMessage, claim: Claim, deliveries: int) -> bool:
        started = time.perf_counter()
        log.info("job.started")
        try:
            await self._handle(message, claim)
        except LeaseLost:
            log.warning("job.lease_lost")
            return True
        except PermanentError as exc:
            return await self._fail(message, "permanent_error", str(exc), exc.code, deliveries)
        except Exception as exc:  # anything unexpected is retried, then dead-lettered
            code = exc.code if isinstance(exc, RetryableError) else type(exc).__name__
            if not isinstance(exc, RetryableError):
                log.exception("job.crashed")
            return await self._retry_or_fail(
                message, claim, str(exc) or repr(exc), code, deliveries
            )
        log.info("job.completed", duration_ms=round((time.perf_counter() - started) * 1000, 2))
        self.metrics.completed()
        return True

    async def _handle(self, message: JobMessage, claim: Claim) -> None:
        started = time.perf_counter()
        try:
            await self.handler(message, claim)
        finally:
            self.metrics.ran(time.perf_counter() - started)

    async def _retry_or_fail(
        self, message: JobMessage, claim: Claim, error: str, code: str, deliveries: int
    ) -> bool:
        if self.config.retry.exhausted(claim.attempt):
            return await self._fail(message, "attempts_exhausted", error, code, deliveries)
        delay = self.config.retry.delay(claim.attempt)

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
        message: JobMessage,
        reason: DeadLetterReason,
        error: str,
        code: str,
        deliveries: int,
    ) -> bool:
        failure = Failure(
            reason=reason,
            error=error,
            code=code,
            attempts=message.attempt,
            deliveries=deliveries,
            consumer=self.config.name,
        )

        async def write(session: AsyncSession) -> bool:
            job = await self.kind.lifecycle.get(session, message.job_id)
            attempts = job.attempt if job is not None else message.attempt
            return await dead_letter(session, self.kind, message, _with_attempts(failure, attempts))

        # again after it committed: the job is FAILED already, nothing is dead-lettered twice
        failed = await in_transaction(self.sessionmaker, write, idempotent=True)
        if failed:
            self.metrics.dead_lettered(reason)
        log.error("job.dead_lettered" if failed else "job.skipped", reason=reason, error=error)
        return True

    async def _dead_letter_raw(
        self, message_id: str, fields: dict[bytes, bytes], deliveries: int
    ) -> None:
        """A message nobody can read has no job row: straight to the DLQ, once per message id."""
        raw = fields.get(DATA_FIELD, b"").decode(errors="replace")
        failure = Failure(
            reason="undecodable",
            error="the message is not a job message this worker understands",
            code="UNDECODABLE",
            attempts=0,
            deliveries=deliveries,
            consumer=self.config.name,
        )
        letter = dead_letter_message(
            self.config.stream, failure, job_id=None, original=None, raw=raw
        )
        await self._publisher.publish(
            dlq_name(self.config.stream), f"raw-{message_id}", encode(letter)
        )
        self.metrics.dead_lettered("undecodable", job_failed=False)
        log.error("job.dead_lettered", reason="undecodable")


def _with_attempts(failure: Failure, attempts: int) -> Failure:
    return Failure(
        reason=failure.reason,
        error=failure.error,
        code=failure.code,
        attempts=attempts,
        deliveries=failure.deliveries,
        consumer=failure.consumer,
    )
