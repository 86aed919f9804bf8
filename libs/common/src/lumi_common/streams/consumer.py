"""The consumer runtime, written once for every stream.

A `Consumer` reads its stream through a consumer group (`StreamReader`, the Redis side), never
holding more messages than it has free slots, and hands each message to its `JobRunner` (the job
side: claim, run the handler, record the outcome). It renews the leases of what runs, in the
database and in Redis, and acknowledges a message only once its outcome is recorded, so a crash
at any point leaves it pending, and the next delivery finds either the job to resume or nothing
to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import JobColumns
from lumi_common.jobs.completions import AfterCommit, Recorder
from lumi_common.jobs.kinds import JobKind
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.outcomes import RetryPolicy
from lumi_common.jobs.results import Handler
from lumi_common.jobs.runner import JobRunner, RunnerRules
from lumi_common.messages import JobMessage
from lumi_common.metrics.jobs import NO_PROVIDER, JobMetrics
from lumi_common.redis_client import RedisClient
from lumi_common.streams.names import group_name, stream_key
from lumi_common.streams.publish import StreamPublisher
from lumi_common.streams.ratelimit import MinuteLimiter
from lumi_common.streams.reader import Delivery, StreamReader

log = structlog.get_logger(__name__)

J = TypeVar("J", bound=JobColumns)
M = TypeVar("M", bound=JobMessage)
R = TypeVar("R")
MAX_READ_BACKOFF_SECONDS = 5.0
# burst mode (tests, one-off runs) ends once a read finds nothing: it waits this long for one
BURST_BLOCK_MS = 50


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


class Consumer(Generic[J, M, R]):
    def __init__(
        self,
        *,
        config: ConsumerConfig,
        redis: RedisClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        kind: JobKind[J, M],
        handler: Handler[J, M, R],
        on_done: Recorder[J, R] | None = None,
        after_done: AfterCommit[J, R] | None = None,
    ) -> None:
        """`on_done` writes what a `Done` result means beyond the job row, in the transaction
        that completes the job; `after_done` runs after that commit."""
        self.config = config
        self.redis = redis
        self.key = stream_key(config.key_prefix, config.stream)
        self.group = group_name(config.stream)
        self.stop_event = asyncio.Event()
        self.last_tick = time.monotonic()
        self.reader = StreamReader(
            redis,
            key=self.key,
            group=self.group,
            consumer=config.name,
            lease_seconds=config.lease_seconds,
        )
        # every outcome is recorded once, in the runner (one call each)
        self.metrics = JobMetrics(stream=config.stream, provider=config.provider)
        self.runner = JobRunner(
            rules=RunnerRules(
                owner=config.name,
                retry=config.retry,
                max_deliveries=config.max_deliveries,
                claim_batch=config.concurrency,
            ),
            sessionmaker=sessionmaker,
            kind=kind,
            handler=handler,
            publisher=StreamPublisher(redis, config.key_prefix),
            metrics=self.metrics,
            on_done=on_done,
            after_done=after_done,
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._limiter = MinuteLimiter(redis, f"{self.key}:rate", config.jobs_per_minute)

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
        await self.reader.ensure_group()
        self.reader.reclaim_soon()  # look for abandoned messages first
        renewer = asyncio.create_task(self._renew_leases())
        try:
            await self._loop(burst)
        finally:
            await self._drain()
            await self.runner.wait_idle()
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
                permits = await self._limiter.acquire(free, self.stop_event)
                if permits == 0:
                    continue  # the rate limit is used up: look again (the loop keeps turning)
                taken = await self.reader.take(permits, block_ms=self._block_ms(burst))
                await self._limiter.refund(permits - len(taken))
            except RedisError as exc:
                backoff = min(MAX_READ_BACKOFF_SECONDS, max(0.1, backoff * 2))
                log.warning("consumer.read.failed", error=repr(exc), retry_in_s=backoff)
                await self._sleep(backoff)
                continue
            backoff = 0.0
            for delivery in taken:
                self._start(delivery)
            if burst and not taken:
                if not self._tasks:
                    return
                await self._wait_for_a_slot()  # our own jobs are running: wait, do not poll

    def _block_ms(self, burst: bool) -> int | None:
        """How long a read waits for messages: in burst mode briefly, and not at all while our
        own work is running (we wait for a slot instead)."""
        if not burst:
            return self.config.block_ms
        return None if self._tasks else BURST_BLOCK_MS

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

    async def _renew_leases(self) -> None:
        interval = self.config.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            held = dict(self.runner.held)
            if held:
                await self._renew(held)

    async def _renew(self, held: dict[str, Claim[J]]) -> None:
        # The job's lease in the database keeps other consumers and the reconciler off a healthy
        # job, so it is renewed on its own: a Redis outage must not let it lapse. It goes first,
        # so the message's idle time (reset below) never runs out before the job's lease does.
        try:
            await self.runner.renew(list(held.values()))
        except (OSError, SQLAlchemyError) as exc:  # the job decides its outcome
            log.warning("consumer.lease.renew_failed", error=repr(exc), held=len(held))
        try:
            await self.reader.keep(list(held))
        except (RedisError, OSError) as exc:
            log.warning("consumer.message.renew_failed", error=repr(exc), held=len(held))

    def _start(self, delivery: Delivery) -> None:
        message_id = delivery.message_id
        task = asyncio.create_task(self._process(delivery))
        self._tasks[message_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(message_id, None))

    async def _process(self, delivery: Delivery) -> None:
        message_id = delivery.message_id
        # bound in this message's own task, whose context copy ends with it: nothing to unbind
        structlog.contextvars.bind_contextvars(stream=self.key, message_id=message_id)
        try:
            settled = await self.runner.settle(delivery)
        except (RedisError, OSError) as exc:
            log.warning("consumer.message.unsettled", error=repr(exc))
            return  # stays pending; redelivered after the lease
        except Exception:  # the message boundary: never let one message stop the consumer
            log.exception("consumer.message.crashed")
            return
        if settled:
            await self._ack(message_id)

    async def _ack(self, message_id: str) -> None:
        await self.reader.ack(message_id)
