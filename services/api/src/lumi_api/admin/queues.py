"""Streams and dead letters as the admin API shows them, from `lumi_common.streams.state` and
`lumi_common.streams.dlq` (what `lumi streams` and `lumi dlq` use too)."""

from __future__ import annotations

from datetime import datetime

from lumi_api.admin.repository import Backlog
from lumi_api.admin.schemas import (
    ConsumerOut,
    DeadLetterOut,
    OutboxOut,
    StreamOut,
)
from lumi_common.pipeline.kinds import REPLAYABLE_STREAMS
from lumi_common.redis_client import RedisClient
from lumi_common.streams.dlq import DeadLetterEntry
from lumi_common.streams.names import JOB_STREAMS
from lumi_common.streams.state import consumer_states, stream_state

# what people type for a stream (`image` for `image-jobs`); full names work too
SHORT_NAMES = {stream.removesuffix("-jobs"): stream for stream in JOB_STREAMS}


def resolve_stream(name: str) -> str | None:
    if name in JOB_STREAMS:
        return name
    return SHORT_NAMES.get(name)


async def stream_view(redis: RedisClient, prefix: str, stream: str, backlog: Backlog) -> StreamOut:
    state = await stream_state(redis, prefix, stream)
    consumers = await consumer_states(redis, prefix, stream) if state.has_group else []
    return StreamOut(
        stream=stream,
        key=state.key,
        length=state.length,
        pending=state.pending,
        lag=state.lag,
        consumers=[
            ConsumerOut(
                name=c.name, pending=c.pending, idle_ms=c.idle_ms, inactive_ms=c.inactive_ms
            )
            for c in consumers
        ],
        dead_letters=state.dlq,
        outbox_due=backlog.due.get(stream, 0),
        replayable=stream in REPLAYABLE_STREAMS,
    )


def outbox_view(backlog: Backlog, *, now: datetime) -> OutboxOut:
    age = None if backlog.oldest_due is None else (now - backlog.oldest_due).total_seconds()
    return OutboxOut(
        due=sum(backlog.due.values()),
        delayed=backlog.delayed,
        oldest_due_age_seconds=None if age is None else round(max(age, 0.0), 3),
    )


def letter_view(entry: DeadLetterEntry) -> DeadLetterOut:
    letter = entry.letter
    if letter is None:
        return DeadLetterOut(
            id=entry.entry_id,
            stream=entry.stream,
            job_id=None,
            reason="unreadable",
            error="the entry is not a dead letter this code can read",
            error_code=None,
            attempts=None,
            deliveries=None,
            consumer=None,
            failed_at=None,
            payload=None,
            raw=entry.raw,
        )
    return DeadLetterOut(
        id=entry.entry_id,
        stream=entry.stream,
        job_id=letter.job_id,
        reason=letter.reason,
        error=letter.error,
        error_code=letter.error_code,
        attempts=letter.attempts,
        deliveries=letter.deliveries,
        consumer=letter.consumer,
        failed_at=letter.failed_at,
        payload=letter.original,
        raw=letter.raw,
    )
