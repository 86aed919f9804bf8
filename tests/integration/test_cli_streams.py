"""`lumi streams --json`: per stream its length, pending, lag, consumers, dead letters and the
outbox backlog, as an operator reads them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.messages import ImageJobRequested
from lumi_common.outbox.writer import add_event
from lumi_common.streams.names import IMAGE_JOBS, JOB_STREAMS, dlq_name, group_name, stream_key
from tests.support.cli import cli_env, lumi

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

    env = cli_env(database_url=database_url, redis_url=redis_url, key_prefix=key_prefix)
    result = await lumi(env, "streams", "--json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    empty = {"length": 0, "pending": 0, "lag": 0, "consumers": 0, "dlq": 0, "outbox_due": 0}
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
        *({"stream": stream_key(key_prefix, s), **empty} for s in JOB_STREAMS[1:]),
    ]


@pytest.mark.parametrize(
    "command", [["streams", "--json"], ["dlq", "list", "--stream", "image", "--json"]], ids=" ".join
)
async def test_the_quick_commands_run_without_sqlalchemy_or_alembic(
    database_url: str, redis_url: str, key_prefix: str, command: list[str]
) -> None:
    """The start-up budget (docs/performance.md, "Operator CLI"), held by what they import."""
    env = cli_env(database_url=database_url, redis_url=redis_url, key_prefix=key_prefix)
    result = await lumi(env, *command, python_flags=("-X", "importtime"))
    assert result.returncode == 0, result.stderr
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "redis" in imported  # it did its work
    assert imported & {"sqlalchemy", "alembic", "tqdm"} == set()
