"""`lumi streams --json`: per stream its length, pending, lag, consumers, dead letters and the
outbox backlog, as an operator reads them."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.messages import ImageJobRequested
from lumi_common.outbox.writer import add_event
from lumi_common.streams.names import IMAGE_JOBS, dlq_name, group_name, stream_key
from tests.support.processes import clean_env, script

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]


async def test_streams_shows_length_pending_lag_dlq_and_backlog(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
    key_prefix: str,
    database_url: str,
    redis_url: str,
) -> None:
    key = stream_key(key_prefix, IMAGE_JOBS)
    for n in range(5):
        await redis.xadd(key, {b"data": str(n).encode()})
    await redis.xgroup_create(key, group_name(IMAGE_JOBS), id="0")
    await redis.xreadgroup(group_name(IMAGE_JOBS), "w1", {key: ">"}, count=2)  # pending 2, lag 3
    await redis.xadd(stream_key(key_prefix, dlq_name(IMAGE_JOBS)), {b"data": b"{}"})
    async with sessionmaker.begin() as session:
        for _ in range(2):
            message = ImageJobRequested(job_id="j", request_id="r")
            add_event(session, stream=IMAGE_JOBS, key="j", message=message)

    env = clean_env(DATABASE_URL=database_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=key_prefix)
    result = await asyncio.to_thread(
        subprocess.run,
        [script("lumi"), "streams", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    assert rows == [
        {
            "stream": key,
            "length": 5,
            "pending": 2,
            "lag": 3,
            "consumers": 1,
            "dlq": 1,
            "outbox_due": 2,
        },
        {
            "stream": stream_key(key_prefix, "model-jobs"),
            "length": 0,
            "pending": 0,
            "lag": 0,
            "consumers": 0,
            "dlq": 0,
            "outbox_due": 0,
        },
    ]
