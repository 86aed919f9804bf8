"""`lumi doctor` on a healthy setup, then with each part broken for real: the report names the
broken part with its fix, and the exit code is that part's class."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from lumi_api.cli.errors import ExitCode
from lumi_common.db import migrate
from lumi_common.settings import DatabaseSettings
from lumi_common.streams.names import JOB_STREAMS, group_name, stream_key
from tests.support.cli import cli_env, lumi, scratch_database
from tests.support.processes import free_port
from tests.support.s3 import S3Server

pytestmark = pytest.mark.slow

CHECKS = ["configuration", "database", "migrations", "redis", "storage"]


@pytest_asyncio.fixture
async def healthy(
    redis: Redis, key_prefix: str, database_url: str, redis_url: str, tmp_path: Path
) -> dict[str, str]:
    """A setup where every check passes: streams with their groups and a reading consumer."""
    for stream in JOB_STREAMS:
        key = stream_key(key_prefix, stream)
        await redis.xgroup_create(key, group_name(stream), id="0", mkstream=True)
        await redis.xgroup_createconsumer(key, group_name(stream), "worker-1")
    storage = tmp_path / "storage"
    return cli_env(
        database_url=database_url,
        redis_url=redis_url,
        key_prefix=key_prefix,
        STORAGE_URL=storage.as_uri(),
    )


async def doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]]]:
    result = await lumi(env, "doctor", "--json")
    assert result.stderr == ""
    return result.returncode, {row["check"]: row for row in json.loads(result.stdout)}


def statuses(report: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: row["status"] for name, row in report.items()}


async def test_a_healthy_setup(healthy: dict[str, str], tmp_path: Path) -> None:
    code, report = await doctor(healthy)
    assert code == ExitCode.OK
    for name in [*CHECKS, *(f"stream {stream}" for stream in JOB_STREAMS)]:
        assert report[name]["status"] == "ok", report[name]
    assert "problem" not in statuses(report).values()
    assert report["storage"]["detail"].endswith("written, read back, deleted")
    assert list((tmp_path / "storage").iterdir()) == []  # the probe file is gone

    table = await lumi(healthy, "doctor")
    assert table.returncode == ExitCode.OK
    assert table.stdout.splitlines()[0].split() == ["CHECK", "STATUS", "DETAIL", "FIX"]


async def test_warnings_do_not_fail(healthy: dict[str, str], redis: Redis, key_prefix: str) -> None:
    await redis.xadd(stream_key(key_prefix, "image-jobs:dlq"), {b"data": b"{}"})
    await redis.xgroup_delconsumer(
        stream_key(key_prefix, "model-jobs"), group_name("model-jobs"), "worker-1"
    )
    code, report = await doctor(healthy)
    assert code == ExitCode.OK
    assert report["dead letters image-jobs"]["status"] == "warning"
    assert "lumi dlq list --stream image" in report["dead letters image-jobs"]["fix"]
    assert report["stream model-jobs"]["status"] == "warning"
    assert report["stream model-jobs"]["fix"] == "start lumi-model-worker"


async def test_an_invalid_configuration(healthy: dict[str, str]) -> None:
    code, report = await doctor({**healthy, "REDIS_URL": "ftp://cache"})
    assert code == ExitCode.CONFIG
    assert report["configuration"]["status"] == "problem"
    assert "REDIS_URL" in report["configuration"]["detail"]
    assert {report[name]["status"] for name in CHECKS[1:]} == {"skipped"}


async def test_an_unreachable_database(healthy: dict[str, str]) -> None:
    url = f"mysql://root:pw-in-url@127.0.0.1:{free_port()}/lumi"
    code, report = await doctor({**healthy, "DATABASE_URL": url})
    assert code == ExitCode.DATABASE_UNREACHABLE
    assert report["database"]["status"] == "problem"
    assert "root:***@127.0.0.1" in report["database"]["detail"]
    assert "check DATABASE_URL" in report["database"]["fix"]
    assert report["migrations"]["status"] == "skipped"
    assert (report["redis"]["status"], report["storage"]["status"]) == ("ok", "ok")


async def test_migrations_behind(
    healthy: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    async with scratch_database(database_url, tmp_path) as fresh:
        await migrate.upgrade(DatabaseSettings(database_url=fresh), "0001")
        code, report = await doctor({**healthy, "DATABASE_URL": fresh})
    assert code == ExitCode.SCHEMA
    assert report["database"]["status"] == "ok"
    assert report["migrations"]["status"] == "problem"
    assert "behind (at 0001" in report["migrations"]["detail"]
    assert report["migrations"]["fix"] == "run `lumi db upgrade`"


async def test_an_unreachable_redis(healthy: dict[str, str]) -> None:
    code, report = await doctor({**healthy, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    assert code == ExitCode.REDIS_UNREACHABLE
    assert report["redis"]["status"] == "problem"
    assert "check REDIS_URL" in report["redis"]["fix"]
    assert report["streams"]["status"] == "skipped"
    assert (report["database"]["status"], report["migrations"]["status"]) == ("ok", "ok")


async def test_streams_without_their_groups(healthy: dict[str, str]) -> None:
    fresh_prefix = f"test-{secrets.token_hex(6)}"  # nothing was ever created under it
    code, report = await doctor({**healthy, "REDIS_KEY_PREFIX": fresh_prefix})
    assert code == ExitCode.STREAMS_NOT_READY
    for stream in JOB_STREAMS:
        row = report[f"stream {stream}"]
        assert row["status"] == "problem"
        assert group_name(stream) in row["detail"]
        assert row["fix"] == f"start lumi-{stream.removesuffix('-jobs')}-worker (it creates both)"


async def test_storage_that_cannot_be_written(healthy: dict[str, str], tmp_path: Path) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("not a folder")
    code, report = await doctor({**healthy, "STORAGE_URL": (occupied / "storage").as_uri()})
    assert code == ExitCode.STORAGE
    assert report["storage"]["status"] == "problem"
    assert "cannot write to the storage" in report["storage"]["detail"]
    assert "STORAGE_URL" in report["storage"]["fix"]


async def test_the_deprecated_storage_dir_still_works(healthy: dict[str, str]) -> None:
    local = urlsplit(healthy.pop("STORAGE_URL")).path
    code, report = await doctor({**healthy, "STORAGE_DIR": local})
    assert code == ExitCode.OK
    assert "STORAGE_DIR is deprecated" in report["storage"]["detail"]


async def test_a_missing_bucket(healthy: dict[str, str], s3_server: S3Server) -> None:
    code, report = await doctor({**healthy, **s3_server.env("no-such-bucket")})
    assert code == ExitCode.STORAGE
    assert "'no-such-bucket' does not exist" in report["storage"]["detail"]


async def test_an_s3_bucket(healthy: dict[str, str], s3_server: S3Server) -> None:
    bucket = await s3_server.create_bucket()
    code, report = await doctor({**healthy, **s3_server.env(bucket, "doctor")})
    assert code == ExitCode.OK
    assert report["storage"]["detail"] == f"s3://{bucket}/doctor/: written, read back, deleted"


async def test_the_first_problem_sets_the_exit_code(healthy: dict[str, str]) -> None:
    broken = {
        **healthy,
        "DATABASE_URL": f"mysql://root@127.0.0.1:{free_port()}/lumi",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    code, report = await doctor(broken)
    assert code == ExitCode.DATABASE_UNREACHABLE
    assert (report["database"]["status"], report["redis"]["status"]) == ("problem", "problem")
