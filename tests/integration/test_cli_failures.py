"""Every class of `lumi` failure, on real backends broken for real: one line on stderr naming the
problem and the fix, its own exit code, never a password; `--debug` adds the traceback."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lumi_api.cli.errors import ExitCode
from lumi_common.db import migrate
from lumi_common.db.engine import create_engine
from lumi_common.settings import DatabaseSettings
from lumi_common.streams.names import IMAGE_JOBS, JOB_STREAMS, dlq_name, stream_key
from tests.support.cli import cli_env, lumi, one_line, scratch_database
from tests.support.processes import free_port

pytestmark = pytest.mark.slow

DATABASE_COMMANDS = [
    ["streams"],
    ["dlq", "replay", "--stream", "image", "--all"],
    ["token", "create", "--email", "operator@example.com"],
    ["token", "revoke", "--email", "operator@example.com"],
    ["db", "upgrade"],
]
REDIS_COMMANDS = [
    ["streams"],
    ["dlq", "list", "--stream", "image"],
    ["dlq", "show", "1-0"],
    ["dlq", "replay", "--stream", "model", "--all"],
    ["dlq", "purge", "--stream", "image", "--all"],
]


@pytest.fixture
def env(database_url: str, redis_url: str, key_prefix: str) -> dict[str, str]:
    return cli_env(database_url=database_url, redis_url=redis_url, key_prefix=key_prefix)


async def test_usage_errors(env: dict[str, str]) -> None:
    result = await lumi(env, "dlq", "lisst")
    assert result.returncode == ExitCode.USAGE
    line = one_line(result)
    assert "invalid choice: 'lisst'" in line
    assert "see `lumi dlq --help`" in line


async def test_an_invalid_configuration_names_every_variable(env: dict[str, str]) -> None:
    broken = {**env, "REDIS_URL": "ftp://cache:6379", "DATABASE_URL": "postgres://db/lumi"}
    result = await lumi(broken, "streams")
    assert result.returncode == ExitCode.CONFIG
    line = one_line(result)
    assert "REDIS_URL" in line
    assert "DATABASE_URL" in line
    assert "docs/configuration.md" in line


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
async def test_an_unreachable_database_is_named_without_its_password(
    env: dict[str, str], command: list[str]
) -> None:
    port = free_port()
    url = f"mysql://lumi:s3cret-pw@127.0.0.1:{port}/lumi"
    result = await lumi({**env, "DATABASE_URL": url}, *command)
    assert result.returncode == ExitCode.DATABASE_UNREACHABLE
    line = one_line(result)
    assert f"mysql+aiomysql://lumi:***@127.0.0.1:{port}/lumi" in line
    assert "Can't connect" in line
    assert "check DATABASE_URL" in line
    assert "s3cret-pw" not in result.stderr + result.stdout


async def test_a_database_that_does_not_exist(env: dict[str, str], database_url: str) -> None:
    if not database_url.startswith("mysql"):
        pytest.skip("a database name means a server: MariaDB")
    name = f"lumi_missing_{secrets.token_hex(4)}"
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    result = await lumi({**env, "DATABASE_URL": url}, "streams")
    assert result.returncode == ExitCode.DATABASE_UNREACHABLE
    assert f"Unknown database '{name}'" in one_line(result)


@pytest.mark.parametrize("command", DATABASE_COMMANDS[:4], ids=" ".join)
async def test_an_unmigrated_database_asks_for_db_upgrade(
    env: dict[str, str], database_url: str, tmp_path: Path, command: list[str]
) -> None:
    async with scratch_database(database_url, tmp_path) as fresh:
        result = await lumi({**env, "DATABASE_URL": fresh}, *command)
    assert result.returncode == ExitCode.SCHEMA
    line = one_line(result)
    assert "no Lumi tables yet" in line or "does not exist yet" in line
    assert "run `lumi db upgrade`" in line


async def test_a_database_behind_or_ahead_of_the_code(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    async with scratch_database(database_url, tmp_path) as fresh:
        settings = DatabaseSettings(database_url=fresh)
        await migrate.upgrade(settings, "0001")
        behind = await lumi(
            {**env, "DATABASE_URL": fresh}, "dlq", "replay", "--stream", "image", "--all"
        )
        await migrate.upgrade(settings)
        engine = create_engine(settings, pooled=False)
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999_later'"))
        await engine.dispose()
        ahead = await lumi({**env, "DATABASE_URL": fresh}, "streams")
    assert behind.returncode == ExitCode.SCHEMA
    assert "is behind (at 0001" in one_line(behind)
    assert "run `lumi db upgrade`" in one_line(behind)
    assert ahead.returncode == ExitCode.SCHEMA
    assert "newer than this lumi (at 9999_later" in one_line(ahead)


@pytest.mark.parametrize("command", REDIS_COMMANDS, ids=" ".join)
async def test_an_unreachable_redis_is_named_without_its_password(
    env: dict[str, str], command: list[str]
) -> None:
    port = free_port()
    result = await lumi({**env, "REDIS_URL": f"redis://:hunter2-pw@127.0.0.1:{port}/0"}, *command)
    assert result.returncode == ExitCode.REDIS_UNREACHABLE
    line = one_line(result)
    assert f"Redis at redis://:***@127.0.0.1:{port}/0" in line
    assert "check REDIS_URL" in line
    assert "hunter2-pw" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["dlq", "list", "--stream", "pictures"],
        ["dlq", "show", "1-0", "--stream", "pictures"],
        ["dlq", "replay", "--stream", "pictures", "--all"],
        ["dlq", "purge", "--stream", "pictures", "--id", "1-0"],
    ],
    ids=" ".join,
)
async def test_an_unknown_stream(env: dict[str, str], command: list[str]) -> None:
    result = await lumi(env, *command)
    assert result.returncode == ExitCode.UNKNOWN_STREAM
    known = " or ".join(stream.removesuffix("-jobs") for stream in JOB_STREAMS)  # image or model…
    assert one_line(result) == f"lumi: unknown stream 'pictures'; use {known}"


@pytest.mark.parametrize(
    "command",
    [
        ["dlq", "show", "abc"],
        ["dlq", "replay", "--stream", "image", "--id", "1-0", "--id", "1-0;DROP"],
        ["dlq", "purge", "--stream", "image", "--id", "x-1"],
    ],
    ids=" ".join,
)
async def test_a_malformed_id(env: dict[str, str], command: list[str]) -> None:
    result = await lumi(env, *command)
    assert result.returncode == ExitCode.BAD_INPUT
    line = one_line(result)
    assert "is not a dead-letter id" in line
    assert "`lumi dlq list`" in line


async def test_not_found(env: dict[str, str]) -> None:
    letter = await lumi(env, "dlq", "show", "1-0")
    user = await lumi(env, "token", "revoke", "--email", f"{secrets.token_hex(6)}@example.com")
    assert (letter.returncode, user.returncode) == (ExitCode.NOT_FOUND, ExitCode.NOT_FOUND)
    assert one_line(letter).startswith("lumi: no dead letter with id 1-0;")
    assert "no user with e-mail" in one_line(user)


async def test_an_unexpected_error_and_debug(
    env: dict[str, str], redis: Redis, key_prefix: str
) -> None:
    # a key of the wrong type where the dead letters should be: nothing the CLI knows about
    await redis.set(stream_key(key_prefix, dlq_name(IMAGE_JOBS)), "not a stream")
    result = await lumi(env, "dlq", "list", "--stream", "image")
    assert result.returncode == ExitCode.INTERNAL
    line = one_line(result)
    assert "unexpected error: ResponseError: WRONGTYPE" in line
    assert "run again with --debug" in line

    debug = await lumi(env, "dlq", "list", "--stream", "image", "--debug")
    assert debug.returncode == ExitCode.INTERNAL
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert debug.stderr.strip().splitlines()[-1] == line


async def test_debug_shows_the_traceback_of_a_known_failure(env: dict[str, str]) -> None:
    result = await lumi(
        {**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "LUMI_DEBUG": "1"},
        "dlq",
        "list",
        "--stream",
        "image",
    )
    assert result.returncode == ExitCode.REDIS_UNREACHABLE
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert "ConnectionError" in result.stderr
    assert lines[-1].startswith("lumi: cannot use Redis at")
