"""`lumi dlq replay --all`, `lumi dlq purge --all` and `lumi db upgrade`, as processes: a bar on a
terminal, plain lines otherwise, only JSON with `--json`, a summary; Ctrl-C in the middle of a
replay leaves every letter either replayed and removed or untouched, and the same command then
carries on."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import termios
from collections import Counter
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.cli.errors import ExitCode
from lumi_common.db import migrate, probe
from lumi_common.db.tables import OutboxEvent
from lumi_common.settings import DatabaseSettings
from lumi_common.states import JobStatus
from lumi_common.streams.dlq import DeadLetters
from lumi_common.streams.names import IMAGE_JOBS
from tests.support.cli import cli_env, lumi, scratch_database
from tests.support.factories import create_task
from tests.support.pipeline import job_states, run_images, wait_until
from tests.support.processes import script

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def env(database_url: str, redis_url: str, key_prefix: str) -> dict[str, str]:
    return cli_env(database_url=database_url, redis_url=redis_url, key_prefix=key_prefix)


async def dead_letters(
    sessionmaker: Sessions, redis: Redis, prefix: str, *, tasks: int
) -> dict[str, str]:
    """Image jobs that failed for good, as the workers fail them: dead letter id → job id."""
    for _ in range(tasks):
        await create_task(sessionmaker)
    await run_images(sessionmaker, redis, prefix, fail=True, runs=Counter(), concurrency=32)
    entries = await DeadLetters(redis, key_prefix=prefix).entries(IMAGE_JOBS, limit=tasks * 4)
    letters = {entry.entry_id: entry.letter.job_id for entry in entries if entry.letter}
    assert len(letters) == tasks * 4
    return {entry_id: job_id for entry_id, job_id in letters.items() if job_id}


async def queued_events(sessionmaker: Sessions, job_ids: list[str]) -> Counter[str]:
    """Unpublished job messages per job: what a replay writes to the outbox."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(OutboxEvent.key, func.count())
            .where(
                OutboxEvent.stream == IMAGE_JOBS,
                OutboxEvent.published_at.is_(None),
                OutboxEvent.key.in_(job_ids),
            )
            .group_by(OutboxEvent.key)
        )
        return Counter({str(key): int(count) for key, count in rows.all()})


async def test_an_interrupted_replay_leaves_each_letter_whole_and_resumes(
    sessionmaker: Sessions, redis: Redis, key_prefix: str, env: dict[str, str]
) -> None:
    letters = await dead_letters(sessionmaker, redis, key_prefix, tasks=60)
    total = len(letters)
    dlq = DeadLetters(redis, key_prefix=key_prefix)
    process = await asyncio.create_subprocess_exec(
        script("lumi"),
        *("dlq", "replay", "--stream", "image", "--all"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )

    async def some_replayed() -> bool:
        assert process.returncode is None, "the replay ended before it was interrupted"
        return await dlq.size(IMAGE_JOBS) <= total - 5

    await wait_until(some_replayed, within=60, interval=0.01)
    process.send_signal(signal.SIGINT)  # Ctrl-C
    out, err = await process.communicate()

    assert process.returncode == ExitCode.INTERRUPTED, err.decode()
    left = {entry.entry_id for entry in await dlq.entries(IMAGE_JOBS, limit=total)}
    replayed = set(letters) - left
    assert 5 <= len(replayed) < total
    states = await job_states(sessionmaker, list(letters.values()))
    events = await queued_events(sessionmaker, list(letters.values()))
    for entry_id, job_id in letters.items():
        if entry_id in left:  # untouched: still failed, nothing queued
            assert (states[job_id][0], events[job_id]) == (JobStatus.FAILED, 0), entry_id
        else:  # replayed: queued once, and its entry removed
            assert (states[job_id][0], events[job_id]) == (JobStatus.QUEUED, 1), entry_id
    assert "lumi: stopping after the current letter" in err.decode()
    assert out.decode().strip() == (
        f"interrupted after {len(replayed)} of {total} letters (requeued {len(replayed)});"
        f" the other {total - len(replayed)} are untouched: run the same command again to continue"
    )

    again = await lumi(env, "dlq", "replay", "--stream", "image", "--all")
    assert again.returncode == ExitCode.OK, again.stderr
    rest = total - len(replayed)
    assert again.stdout.strip() == f"requeued {rest} of {rest} letters"
    assert await dlq.size(IMAGE_JOBS) == 0
    assert await queued_events(sessionmaker, list(letters.values())) == Counter(
        dict.fromkeys(letters.values(), 1)
    )


async def test_replay_progress_lines_summary_and_json(
    sessionmaker: Sessions, redis: Redis, key_prefix: str, env: dict[str, str]
) -> None:
    letters = await dead_letters(sessionmaker, redis, key_prefix, tasks=5)
    dry = await lumi(env, "dlq", "replay", "--stream", "image", "--all", "--dry-run", "--json")
    assert (dry.returncode, dry.stderr) == (ExitCode.OK, "")
    assert [r["outcome"] for r in json.loads(dry.stdout)] == ["would_requeue"] * 20

    done = await lumi(env, "dlq", "replay", "--stream", "image", "--all")
    assert done.returncode == ExitCode.OK, done.stderr
    assert done.stderr.splitlines() == [
        f"replay: {n}/20 letters ({n * 5}%)" for n in range(2, 21, 2)
    ]
    assert done.stdout == "requeued 20 of 20 letters\n"
    assert set((await queued_events(sessionmaker, list(letters.values()))).values()) == {1}


async def fill(redis: Redis, key: str, count: int) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(count):
            pipe.xadd(key, {b"data": str(n).encode()})
        await pipe.execute()


def on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stderr on a 100-column pseudo-terminal, as in an operator's shell: exit code,
    stdout, what the terminal showed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    shown = b""
    try:
        with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=follower) as process:
            os.close(follower)
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # EIO: the process closed its end
                    break
                if not chunk:
                    break
                shown += chunk
            out, _ = process.communicate(timeout=60)
    finally:
        os.close(leader)
    return process.returncode, out.decode(), shown.decode(errors="replace")


async def test_purge_all_progress_on_a_terminal_in_lines_and_in_json(
    redis: Redis, key_prefix: str, env: dict[str, str]
) -> None:
    key = DeadLetters(redis, key_prefix=key_prefix).key(IMAGE_JOBS)
    purge = [script("lumi"), "dlq", "purge", "--stream", "image", "--all"]

    await fill(redis, key, 1200)
    code, out, shown = await asyncio.to_thread(on_a_terminal, purge, env)
    assert code == ExitCode.OK
    assert "purge: 100%" in shown
    assert "1200/1200" in shown
    assert out == "removed 1200 of 1200 letters\n"

    await fill(redis, key, 1200)
    lines = await lumi(env, *purge[1:])
    assert lines.stderr.splitlines() == [
        "purge: 500/1200 letters (41%)",
        "purge: 1000/1200 letters (83%)",
        "purge: 1200/1200 letters (100%)",
    ]
    assert lines.stdout == "removed 1200 of 1200 letters\n"

    await fill(redis, key, 3)
    quiet = await lumi(env, *purge[1:], "--json")
    assert (quiet.returncode, quiet.stderr) == (ExitCode.OK, "")
    assert json.loads(quiet.stdout) == {"total": 3, "removed": 3, "interrupted": False}


async def test_db_upgrade_steps_and_resumes(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    async with scratch_database(database_url, tmp_path) as fresh:
        settings = DatabaseSettings(database_url=fresh)
        head = migrate.head_revision()
        # stopped after the first migration: at a recorded revision, the rest still to do
        steps: list[str] = []
        first = await migrate.upgrade_stepwise(
            settings, stop=lambda: bool(steps), on_step=steps.append
        )
        assert (first.applied, first.interrupted) == (["0001"], True)
        async with probe.connect(settings) as connection:
            assert (await connection.schema()).current == "0001"

        resumed = await lumi({**env, "DATABASE_URL": fresh}, "db", "upgrade")
        assert resumed.returncode == ExitCode.OK, resumed.stderr
        assert (
            resumed.stdout
            == f"database at revision {head} (applied {', '.join(first.planned[1:])})\n"
        )
        assert (
            resumed.stderr.splitlines()[-1]
            == f"db upgrade: {len(first.planned) - 1}/{len(first.planned) - 1} migrations (100%)"
        )

        again = await lumi({**env, "DATABASE_URL": fresh}, "db", "upgrade", "--json")
        assert (again.returncode, again.stderr) == (ExitCode.OK, "")
        assert json.loads(again.stdout) == {
            "from": head,
            "to": head,
            "applied": [],
            "interrupted": False,
        }
        current = await lumi({**env, "DATABASE_URL": fresh}, "db", "current", "--json")
        assert json.loads(current.stdout) == {"applied": head, "latest": head, "status": "current"}
