"""A poison message that crashes its worker every time ends in the dead-letter stream, visible to
the client and to operators; once the cause is fixed, a replay (library and `lumi dlq`) runs it.
A job whose very claim fails is dead-lettered alone, not with the messages read together with it."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GenerationRequest, ImageJob, OutboxEvent
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.outcomes import RetryPolicy
from lumi_common.messages import ImageJobRequested
from lumi_common.pipeline.images import ALL_FAILED_MESSAGE, ImageJobs
from lumi_common.states import JobStatus, RequestStatus
from lumi_common.streams.consumer import Consumer
from lumi_common.streams.dlq import DeadLetters
from lumi_common.streams.dlq_replay import replay
from lumi_common.streams.names import IMAGE_JOBS, stream_key
from lumi_common.time import parse_iso, utcnow
from tests.support.cli import lumi
from tests.support.factories import create_task
from tests.support.handlers import effect_counts, image_handler, record_effects
from tests.support.pipeline import consumer, job_states, relay_all
from tests.support.processes import clean_env

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("empty_outbox", "effects_table")]

Sessions = async_sessionmaker[AsyncSession]
LEASE_S = 0.5
MAX_DELIVERIES = 3


async def requests(sessionmaker: Sessions, ids: list[str]) -> dict[str, GenerationRequest]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(GenerationRequest).where(GenerationRequest.id.in_(ids)))
        return {row.id: row for row in rows}


async def queued_events(sessionmaker: Sessions, job_id: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.key == job_id,
                OutboxEvent.stream == IMAGE_JOBS,
                OutboxEvent.published_at.is_(None),
            )
        )
    return int(count or 0)


async def crash_until_dead_lettered(
    sessionmaker: Sessions,
    redis: Redis,
    prefix: str,
    worker: Consumer[Any, Any, Any],
    job_ids: list[str],
) -> int:
    """Deliver, crash, wait out the lease, again, until the jobs fail; the rounds it took."""
    for rounds in range(1, 10):
        await relay_all(sessionmaker, redis, prefix)
        await worker.run(burst=True)
        states = await job_states(sessionmaker, job_ids)
        if {status for status, _ in states.values()} == {JobStatus.FAILED}:
            await relay_all(sessionmaker, redis, prefix)  # dead letters go through the outbox
            return rounds
        await asyncio.sleep(LEASE_S * 1.5)
    raise AssertionError("the poison jobs never failed")


async def test_poison_is_dead_lettered_visible_and_replayed_once_fixed(
    sessionmaker: Sessions, redis: Redis, key_prefix: str, database_url: str, redis_url: str
) -> None:
    kind = ImageJobs(lease=timedelta(seconds=LEASE_S))
    tasks = [await create_task(sessionmaker, images=1) for _ in range(2)]
    job_ids = [task.job_ids[0] for task in tasks]
    request_ids = [task.request_id for task in tasks]
    created = {r.id: r.updated_at for r in (await requests(sessionmaker, request_ids)).values()}
    fixed = asyncio.Event()

    async def crash(message: ImageJobRequested, claim: Claim[ImageJob]) -> None:
        if not fixed.is_set():
            raise asyncio.CancelledError  # the process dies on this message, every time

    runs: Counter[str] = Counter()
    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=image_handler(sessionmaker, kind, runs=runs, before_complete=crash),
        on_done=record_effects,
        prefix=key_prefix,
        lease_seconds=LEASE_S,
        max_deliveries=MAX_DELIVERIES,
        retry=RetryPolicy(max_attempts=10, base_seconds=0.01, max_seconds=0.05),
    )

    rounds = await crash_until_dead_lettered(sessionmaker, redis, key_prefix, worker, job_ids)
    # one delivery a round, unless a round outlasted the lease (a slow machine): the letters
    # below count the deliveries themselves
    assert rounds <= MAX_DELIVERIES + 1
    assert await job_states(sessionmaker, job_ids) == dict.fromkeys(
        job_ids, (JobStatus.FAILED, MAX_DELIVERIES)
    )
    # the client sees it: the request failed, and its updated_at moved for `?since=` polling
    for request in (await requests(sessionmaker, request_ids)).values():
        assert request.status == RequestStatus.IMAGE_FAILED
        assert request.error_message == ALL_FAILED_MESSAGE
        assert request.updated_at > created[request.id]
    # operators see it: one dead letter per job with everything needed to judge and replay it
    letters = DeadLetters(redis, key_prefix=key_prefix)
    entries = {
        entry.letter.job_id: entry for entry in await letters.entries(IMAGE_JOBS) if entry.letter
    }
    assert set(entries) == set(job_ids)
    for job_id, entry in entries.items():
        letter = entry.letter
        assert letter is not None
        assert letter.reason == "delivery_cap"
        assert letter.original is not None
        assert letter.original["job_id"] == job_id
        assert f"delivered {MAX_DELIVERIES + 1} times" in letter.error
        assert (letter.attempts, letter.deliveries) == (MAX_DELIVERIES, MAX_DELIVERIES + 1)
        assert letter.consumer == worker.config.name
        assert timedelta(0) <= utcnow() - parse_iso(letter.failed_at) < timedelta(minutes=1)

    fixed.set()
    first, second = entries[job_ids[0]].entry_id, entries[job_ids[1]].entry_id
    # the library: replaying the same entry twice queues the job once
    replayed = await replay(letters, sessionmaker, kind, [first])
    again = await replay(letters, sessionmaker, kind, [first])
    assert [r.outcome for r in replayed.results + again.results] == ["requeued", "missing"]
    assert await queued_events(sessionmaker, job_ids[0]) == 1

    # the CLI: a dry run changes nothing, then a replay, then the same replay again
    env = clean_env(DATABASE_URL=database_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=key_prefix)
    command = ["dlq", "replay", "--stream", "image", "--id", second, "--json"]
    dry = await lumi(env, *command, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert [r["outcome"] for r in json.loads(dry.stdout)] == ["would_requeue"]
    assert (await job_states(sessionmaker, [job_ids[1]]))[job_ids[1]][0] is JobStatus.FAILED
    assert await letters.size(IMAGE_JOBS) == 1
    done = await lumi(env, *command)
    assert done.returncode == 0, done.stderr
    assert [r["outcome"] for r in json.loads(done.stdout)] == ["requeued"]
    twice = await lumi(env, *command)
    assert twice.returncode == 1
    assert [r["outcome"] for r in json.loads(twice.stdout)] == ["missing"]
    assert await queued_events(sessionmaker, job_ids[1]) == 1
    assert await letters.size(IMAGE_JOBS) == 0

    await relay_all(sessionmaker, redis, key_prefix)
    await worker.run(burst=True)
    assert await job_states(sessionmaker, job_ids) == dict.fromkeys(
        job_ids, (JobStatus.COMPLETED, 1)
    )
    assert await effect_counts(sessionmaker, job_ids) == Counter(dict.fromkeys(job_ids, 1))
    for request in (await requests(sessionmaker, request_ids)).values():
        assert (request.status, request.error_message) == (RequestStatus.IMAGE_COMPLETED, None)


async def test_undecodable_messages_and_the_dlq_commands(
    sessionmaker: Sessions, redis: Redis, key_prefix: str, database_url: str, redis_url: str
) -> None:
    kind = ImageJobs(lease=timedelta(seconds=LEASE_S))
    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=image_handler(sessionmaker, kind),
        on_done=record_effects,
        prefix=key_prefix,
        concurrency=1,  # dead letters in stream order
    )
    key = stream_key(key_prefix, IMAGE_JOBS)
    await redis.xadd(key, {b"data": b"\x00garbage{"})
    await redis.xadd(key, {b"data": b'{"v": 1, "type": "image_job.requested"}'})
    await redis.xadd(key, {b"other": b"no data field at all"})
    await worker.run(burst=True)
    await worker.run(burst=True)  # redelivery of nothing: each goes to the DLQ once

    env = clean_env(DATABASE_URL=database_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=key_prefix)
    listing = await lumi(env, "dlq", "list", "--stream", "image", "--json")
    assert listing.returncode == 0, listing.stderr
    rows: list[dict[str, Any]] = json.loads(listing.stdout)
    assert [(row["reason"], row["job_id"]) for row in rows] == [("undecodable", None)] * 3

    show = await lumi(env, "dlq", "show", rows[0]["id"])
    assert show.returncode == 0, show.stderr
    shown = json.loads(show.stdout)
    assert (shown["id"], shown["reason"], shown["raw"]) == (
        rows[0]["id"],
        "undecodable",
        "\x00garbage{",
    )

    nothing_to_run = await lumi(env, "dlq", "replay", "--stream", "image", "--all", "--json")
    assert nothing_to_run.returncode == 1
    assert {r["outcome"] for r in json.loads(nothing_to_run.stdout)} == {"no_job"}

    purge_one = await lumi(env, "dlq", "purge", "--stream", "image", "--id", rows[0]["id"])
    assert purge_one.stdout.strip() == "removed 1 of 1 letters"
    purge_all = await lumi(env, "dlq", "purge", "--stream", "image", "--all")
    assert purge_all.returncode == 0
    assert await DeadLetters(redis, key_prefix=key_prefix).size(IMAGE_JOBS) == 0
    pending = await redis.xpending(key, "image-jobs-workers")
    assert pending["pending"] == 0


class PoisonedClaims(ImageJobs):
    """Image jobs whose bookkeeping at the claim always fails for one job (bad data, a bug)."""

    def __init__(self, poison: str) -> None:
        super().__init__(lease=timedelta(seconds=LEASE_S))
        self.poison = poison
        self.batches: list[int] = []

    async def on_claimed(self, session: AsyncSession, jobs: Sequence[ImageJob]) -> None:
        self.batches.append(len(jobs))
        if any(job.id == self.poison for job in jobs):
            raise ValueError("this job's claim can never be recorded")
        await super().on_claimed(session, jobs)


async def test_a_job_whose_claim_always_fails_is_dead_lettered_alone(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    """Messages read together are claimed in one transaction: the poison one must not take the
    others down with it, on the first delivery or any later one."""
    task = await create_task(sessionmaker)
    poison, *good = task.job_ids
    kind = PoisonedClaims(poison)
    runs: Counter[str] = Counter()
    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=image_handler(sessionmaker, kind, runs=runs),
        on_done=record_effects,
        prefix=key_prefix,
        concurrency=4,  # the four messages are read, and claimed, together
        lease_seconds=LEASE_S,
        max_deliveries=MAX_DELIVERIES,
    )

    rounds = await crash_until_dead_lettered(sessionmaker, redis, key_prefix, worker, [poison])

    assert rounds <= MAX_DELIVERIES + 1  # as above: the letter counts the deliveries
    assert kind.batches[0] == 4  # claimed together first, then one by one after the failure
    assert runs == Counter(dict.fromkeys(good, 1))  # each good job ran once, the poison never
    states = await job_states(sessionmaker, task.job_ids)
    assert states == {
        poison: (JobStatus.FAILED, 0),
        **dict.fromkeys(good, (JobStatus.COMPLETED, 1)),
    }
    request = (await requests(sessionmaker, [task.request_id]))[task.request_id]
    assert request.status is RequestStatus.IMAGE_COMPLETED  # three images to choose from
    letters = await DeadLetters(redis, key_prefix=key_prefix).entries(IMAGE_JOBS)
    assert [
        (entry.letter.job_id, entry.letter.reason, entry.letter.deliveries)
        for entry in letters
        if entry.letter
    ] == [(poison, "delivery_cap", MAX_DELIVERIES + 1)]
