"""A Redis Cluster failover under load: a master is killed, its replica takes over its slots.

Replication is asynchronous, so the promoted replica may lack the master's last writes (an XADD,
an acknowledgement, a delivery); the database and the reconciler remain the truth. These tests
run on a cluster of their own (three masters with a replica each), since they kill a node.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.invalidation import LISTENER, channel
from lumi_api.auth.service import hash_token
from lumi_api.keys import TOKEN_CACHE
from lumi_api.settings import ApiSettings
from lumi_common.jobs.reconciler import Reconciler
from lumi_common.outbox.relay import Relay, RelayConfig
from lumi_common.outbox.signal import OutboxSignal
from lumi_common.pipeline.images import ImageJobs
from lumi_common.redis_client import RedisClient, open_redis
from lumi_common.settings import RedisSettings
from lumi_common.states import JobStatus
from lumi_common.streams.names import IMAGE_JOBS, stream_key
from tests.integration.test_token_cache_invalidation import (
    CACHE_SECONDS,
    refused_within,
    replica,
    status,
)
from tests.support.api import issue
from tests.support.factories import create_task
from tests.support.handlers import effect_counts, image_handler, record_effects
from tests.support.pipeline import all_completed, consumer, job_states, running, wait_until
from tests.support.redis_cluster import RedisClusterServers, redis_cluster

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("empty_outbox", "no_stuck_jobs", "effects_table"),
]
Sessions = async_sessionmaker[AsyncSession]
# how long a node may be unreachable before the others count it failed: the failover takes
# about this long, plus an election
NODE_TIMEOUT_MS = 2000


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisClusterServers]:
    with redis_cluster(tmp_path / "cluster", replicas=1, node_timeout_ms=NODE_TIMEOUT_MS) as nodes:
        yield nodes


@pytest_asyncio.fixture
async def redis(cluster: RedisClusterServers) -> AsyncIterator[RedisClient]:
    """A client configured as the services configure theirs."""
    client = await open_redis(RedisSettings(redis_url=cluster.url))
    yield client
    await client.aclose()


async def test_jobs_flowing_through_a_failover_all_complete_once(
    sessionmaker: Sessions, redis: RedisClient, cluster: RedisClusterServers, key_prefix: str
) -> None:
    kind = ImageJobs(lease=timedelta(seconds=2))
    signal = OutboxSignal()
    relay = Relay(
        sessionmaker,
        redis,
        RelayConfig(key_prefix=key_prefix, poll_seconds=0.1, max_backoff_seconds=1.0),
        signal,
    )
    workers = [
        consumer(
            redis=redis,
            sessionmaker=sessionmaker,
            kind=kind,
            handler=image_handler(sessionmaker, kind, delay=0.3),
            on_done=record_effects,
            prefix=key_prefix,
            concurrency=2,
            lease_seconds=2.0,
        )
        for _ in range(2)
    ]
    # a message the promoted replica lacks is re-emitted from the database after this long
    reconciler = Reconciler(sessionmaker, kind, after=timedelta(seconds=3))
    stream = stream_key(key_prefix, IMAGE_JOBS)
    async with running(relays=[relay], consumers=workers, reconcilers=[reconciler]):
        before = (await create_task(sessionmaker)).job_ids
        signal.wake()
        await wait_until(lambda: all_completed(sessionmaker, before), within=20)

        flowing = [job for _ in range(3) for job in (await create_task(sessionmaker)).job_ids]
        signal.wake()
        await wait_until(lambda: started(sessionmaker, flowing), within=20)
        victim = cluster.master_of(stream)
        victim.kill()  # in the middle of the batch: deliveries, acks and XADDs under way
        during = [job for _ in range(2) for job in (await create_task(sessionmaker)).job_ids]
        signal.wake()
        every = [*before, *flowing, *during]
        took = await wait_until(lambda: all_completed(sessionmaker, every), within=90)

    print(f"\ncluster failover: every job completed {took:.2f} s after the master was killed")
    assert cluster.master_of(stream).port != victim.port  # a replica took the slot over
    assert await effect_counts(sessionmaker, every) == Counter(dict.fromkeys(every, 1))
    assert {state for state, _ in (await job_states(sessionmaker, every)).values()} == {
        JobStatus.COMPLETED
    }


async def started(sessionmaker: Sessions, job_ids: list[str]) -> bool:
    states = await job_states(sessionmaker, job_ids)
    return any(state is not JobStatus.QUEUED for state, _ in states.values())


async def test_token_announcements_reach_a_replica_again_after_a_failover(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    sessionmaker: Sessions,
    cluster: RedisClusterServers,
    key_prefix: str,
) -> None:
    settings = settings_factory(token_cache_seconds=CACHE_SECONDS, redis_url=cluster.url)
    one, two = await replica(aiohttp_client, settings), await replica(aiohttp_client, settings)
    token = await issue(sessionmaker)
    assert await status(two, token.header) == 200  # cached by the second replica

    victim = cluster.master_of(channel(key_prefix))  # where both listen (sharded pub/sub)
    victim.kill()
    listener = two.app[LISTENER]
    await wait_until(lambda: lost(listener.listening), within=30)
    # subscribed again where the channel's slot lives now: the promoted replica
    await asyncio.wait_for(listener.listening.wait(), 60)
    await asyncio.wait_for(one.app[LISTENER].listening.wait(), 60)
    assert cluster.master_of(channel(key_prefix)).port != victim.port

    await one.post("/api/auth/logout", headers={"Authorization": token.header})
    assert await refused_within(two, token.header, 5) < 5


async def lost(listening: asyncio.Event) -> bool:
    return not listening.is_set()


async def test_a_replica_that_lost_the_whole_cluster_listens_again_with_an_empty_cache(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    sessionmaker: Sessions,
    cluster: RedisClusterServers,
) -> None:
    """Every node down (redis-py says `RedisClusterException`, not a `RedisError`): the listener
    keeps trying, and once the cluster is back it listens again, having forgotten what it
    cached (announcements made meanwhile were lost)."""
    settings = settings_factory(token_cache_seconds=CACHE_SECONDS, redis_url=cluster.url)
    one, two = await replica(aiohttp_client, settings), await replica(aiohttp_client, settings)
    token = await issue(sessionmaker)
    assert await status(two, token.header) == 200
    listener = two.app[LISTENER]

    for node in cluster.nodes:
        node.kill()
    await wait_until(lambda: lost(listener.listening), within=30)
    await asyncio.sleep(3)  # several attempts to subscribe again fail meanwhile
    for node in cluster.nodes:
        node.start()  # empty, as after a crash without persistence
    await asyncio.to_thread(cluster.wait_until_healthy)

    await asyncio.wait_for(listener.listening.wait(), 60)
    assert two.app[TOKEN_CACHE].get(hash_token(token.token)) is None  # forgotten
    await asyncio.wait_for(one.app[LISTENER].listening.wait(), 60)
    await one.post("/api/auth/logout", headers={"Authorization": token.header})
    assert await refused_within(two, token.header, 5) < 5
