"""The toy worker of docs/architecture.md, built and run in burst mode: a new kind of job is a
table, a message, a kind and a handler that returns `Done`, and the shared runtime does the rest
(claim, lease, completion, dead letter). The docs quote its code; this checks they still do."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lumi_common.ids import new_id
from lumi_common.messages import DeadLetter, decode
from lumi_common.outbox.writer import add_event
from lumi_common.states import JobStatus
from lumi_common.storage.local import LocalStorage
from lumi_common.streams.names import dlq_name, stream_key
from tests.support.pipeline import relay_all, stream_entries
from tests.support.thumbnails import (
    ThumbnailJob,
    ThumbnailJobs,
    ThumbnailWorkerSettings,
    ToyBase,
    run,
)

pytestmark = pytest.mark.usefixtures("empty_outbox")
Sessions = async_sessionmaker[AsyncSession]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
async def thumbnail_table(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(ToyBase.metadata.create_all)


async def queue_thumbnail(sessionmaker: Sessions, picture_key: str) -> str:
    """What an API route would do: the job row and its event, in one transaction."""
    kind = ThumbnailJobs(lease=timedelta(seconds=30))
    async with sessionmaker.begin() as session:
        job = ThumbnailJob(id=new_id(), request_id=new_id(), picture_key=picture_key)
        session.add(job)
        await session.flush()
        message = await kind.message_for(session, job, attempt=1)
        add_event(session, stream=kind.stream, key=job.id, message=message)
    return job.id


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, format="PNG")
    return out.getvalue()


async def test_the_toy_worker_makes_thumbnails_and_dead_letters_a_missing_picture(
    sessionmaker: Sessions,
    redis: Redis,
    key_prefix: str,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("pictures/a.png", png(640, 480), "image/png")
    made = await queue_thumbnail(sessionmaker, "pictures/a.png")
    missing = await queue_thumbnail(sessionmaker, "pictures/none.png")
    await relay_all(sessionmaker, redis, key_prefix)

    settings = ThumbnailWorkerSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_key_prefix=key_prefix,
        storage_url=tmp_path.as_uri(),
        app_env="test",
        thumbnail_size=64,
    )
    await run(settings, burst=True)

    async with sessionmaker() as session:
        jobs = {
            job.id: job
            for job in await session.scalars(
                select(ThumbnailJob).where(ThumbnailJob.id.in_([made, missing]))
            )
        }
    assert (jobs[made].status, jobs[made].attempt) == (JobStatus.COMPLETED, 1)
    assert jobs[made].thumbnail_key == f"thumbnails/{made}.png"
    with Image.open(io.BytesIO(await storage.get(f"thumbnails/{made}.png"))) as thumbnail:
        assert thumbnail.size == (64, 48)
    assert (jobs[missing].status, jobs[missing].error_code) == (JobStatus.FAILED, "PERMANENT")
    await relay_all(sessionmaker, redis, key_prefix)  # the dead letter travels through the outbox
    letters = [
        decode(fields[b"data"])
        for _, fields in await stream_entries(
            redis, stream_key(key_prefix, dlq_name("thumbnail-jobs"))
        )
    ]
    assert [
        (letter.job_id, letter.reason) for letter in letters if isinstance(letter, DeadLetter)
    ] == [(missing, "permanent_error")]


def test_the_docs_quote_the_toy_worker() -> None:
    """Every snippet between the markers of tests/support/thumbnails.py is in the docs."""
    docs = (ROOT / "docs" / "architecture.md").read_text()
    code = (ROOT / "tests" / "support" / "thumbnails.py").read_text()
    snippets = re.findall(r"# --8<-- \[start:(\w+)\]\n(.*?)# --8<-- \[end:\1\]", code, re.S)
    assert {name for name, _ in snippets} == {"kind", "handler", "service"}
    for name, snippet in snippets:
        assert snippet.strip() in docs, f"docs/architecture.md no longer quotes the {name} code"
