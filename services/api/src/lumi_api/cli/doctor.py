"""`lumi doctor`: is this deployment's setup usable? One row per check, OK or the problem with
its fix; the exit code is the class of the first problem (`lumi_api.cli.errors.ExitCode`), 0 when
there is none (warnings do not fail).

Checks, in order: configuration, database reachable, migrations at this code's head, Redis
reachable (version, mode, persistence), each job stream and its consumer group, storage writable.
A check whose ground is missing (no database → no migrations) is `skipped`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from lumi_api.cli.errors import CliError, ExitCode, run_async

if TYPE_CHECKING:
    from lumi_common.redis_client import RedisClient
    from lumi_common.settings import DatabaseSettings, RedisSettings, StorageSettings

Status = Literal["ok", "warning", "problem", "skipped"]
COLUMNS = ("check", "status", "detail", "fix")
STORAGE_PROBE_PREFIX = "doctor"


# not a dataclass: importing `dataclasses` would slow `lumi --help` (docs/performance.md,
# "Operator CLI")
class Check(NamedTuple):
    check: str
    status: Status
    detail: str
    fix: str = ""
    code: int = ExitCode.OK

    @classmethod
    def failed(cls, check: str, error: CliError) -> Check:
        return cls(check, "problem", error.problem, error.fix, int(error.code))

    @classmethod
    def skipped(cls, check: str, because: str) -> Check:
        return cls(check, "skipped", f"needs {because}")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "doctor", help="check configuration, database, migrations, Redis, streams and storage"
    )
    parser.add_argument("--json", action="store_true", help="JSON for scripts")
    parser.set_defaults(run=run_async(_doctor))


async def _doctor(args: argparse.Namespace) -> int:
    from lumi_api.cli import context

    checks = await diagnose()
    rows = [{k: v for k, v in check._asdict().items() if k != "code"} for check in checks]
    context.emit(rows, as_json=args.json, columns=COLUMNS)
    return next((check.code for check in checks if check.status == "problem"), ExitCode.OK)


async def diagnose() -> list[Check]:
    from lumi_api.cli import context
    from lumi_common.settings import StorageSettings

    class DoctorSettings(context.OpsSettings, StorageSettings):
        pass

    try:
        settings = context.load(DoctorSettings)
    except CliError as error:
        return [Check.failed("configuration", error)] + [
            Check.skipped(name, "a valid configuration")
            for name in ("database", "migrations", "redis", "streams", "storage")
        ]
    checks = [Check("configuration", "ok", f"APP_ENV={settings.app_env.value}")]
    checks += await _database(settings)
    checks += await _redis(settings)
    checks.append(await _storage(settings))
    return checks


async def _database(settings: DatabaseSettings) -> list[Check]:
    from lumi_api.cli.errors import from_exception, schema_not_ready
    from lumi_common.db import probe
    from lumi_common.urls import redact_url

    try:
        async with probe.connect(settings) as connection:
            state = await connection.schema()
    except (probe.DatabaseUnavailable, probe.SchemaNotReady) as error:
        return [Check.failed("database", from_exception(error)), Check.skipped("migrations", "it")]
    reached = Check("database", "ok", redact_url(settings.database_url))
    if state.status == "current":
        return [reached, Check("migrations", "ok", f"at {state.head}, the latest")]
    failed = schema_not_ready(probe.SchemaNotReady(settings.database_url, state))
    return [reached, Check.failed("migrations", failed)]


async def _redis(settings: RedisSettings) -> list[Check]:
    from lumi_api.cli import context
    from lumi_common.urls import redact_url

    try:
        async with context.redis(settings) as redis:
            info: dict[str, Any] = await redis.info()
            where = redact_url(settings.redis_url)
            mode = info.get("redis_mode", "standalone")
            checks = [Check("redis", "ok", f"{where}: {mode}, version {info['redis_version']}")]
            if not info.get("aof_enabled"):
                checks.append(
                    Check(
                        "redis persistence",
                        "warning",
                        "append-only file off: a restart loses the dead letters",
                        "set `appendonly yes` (docs/operations.md, when Redis restarts)",
                    )
                )
            for stream in context.STREAMS.values():
                checks += await _stream(redis, settings.redis_key_prefix, stream)
            return checks
    except CliError as error:
        return [Check.failed("redis", error), Check.skipped("streams", "Redis")]


async def _stream(redis: RedisClient, prefix: str, stream: str) -> list[Check]:
    from lumi_common.streams.names import group_name
    from lumi_common.streams.state import stream_state

    name, short = f"stream {stream}", stream.removesuffix("-jobs")
    worker = f"lumi-{short}-worker"
    state = await stream_state(redis, prefix, stream)
    if not state.has_group:
        problem = CliError(
            ExitCode.STREAMS_NOT_READY,
            f"{state.key} or its consumer group {group_name(stream)} does not exist",
            f"start {worker} (it creates both)",
        )
        return [Check.failed(name, problem)]
    detail = f"lag {state.lag}, pending {state.pending}, consumers {state.consumers}"
    checks = [Check(name, "ok", detail)]
    if state.consumers == 0:
        checks[0] = Check(name, "warning", f"{detail}: no worker reads it", f"start {worker}")
    if state.dlq:
        checks.append(
            Check(
                f"dead letters {stream}",
                "warning",
                f"{state.dlq} dead letters",
                f"`lumi dlq list --stream {short}`, then replay or purge",
            )
        )
    return checks


async def _storage(settings: StorageSettings) -> Check:
    """Write, read back and delete a small file through the services' storage backend."""
    import secrets

    from lumi_common.storage import StorageError, open_storage

    key = f"{STORAGE_PROBE_PREFIX}-{secrets.token_hex(8)}.txt"  # top level: no folder left
    payload = b"lumi doctor"
    where = str(settings.storage_location)
    try:
        storage = await open_storage(settings)
        try:
            await storage.put(key, payload, "text/plain")
            readable = await storage.get(key) == payload
            await storage.delete(key)
        finally:
            await storage.aclose()
    except OSError as error:  # StorageError (S3) is an OSError too
        reason = str(error) if isinstance(error, StorageError) else error.strerror or error
        problem = CliError(
            ExitCode.STORAGE,
            f"cannot write to the storage {where}: {reason}",
            "check STORAGE_URL (or the deprecated STORAGE_DIR), the S3_* settings and permissions",
        )
        return Check.failed("storage", problem)
    if not readable:
        problem = CliError(
            ExitCode.STORAGE, f"the storage {where} returned other bytes", "check the storage"
        )
        return Check.failed("storage", problem)
    detail = f"{where}: written, read back, deleted"
    if settings.storage_dir is not None:
        detail += f" (STORAGE_DIR is deprecated: set STORAGE_URL={where})"
    return Check("storage", "ok", detail)
