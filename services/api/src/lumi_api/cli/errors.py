"""How `lumi` fails: one line on stderr naming the problem and the fix, and an exit code per
class of failure (documented in docs/operations.md and in `lumi --help`).

Light on purpose (imported by every command before parsing): the classes of the errors it maps
are imported only once an error has happened.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lumi_common.db.probe import SchemaNotReady


class ExitCode(IntEnum):
    OK = 0
    INCOMPLETE = 1
    USAGE = 2
    CONFIG = 3
    DATABASE_UNREACHABLE = 4
    SCHEMA = 5
    REDIS_UNREACHABLE = 6
    UNKNOWN_STREAM = 7
    BAD_INPUT = 8
    NOT_FOUND = 9
    STORAGE = 10
    STREAMS_NOT_READY = 11
    INTERNAL = 70
    INTERRUPTED = 130


MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.INCOMPLETE: "ran, but not everything was done (letters not replayed or not found)",
    ExitCode.USAGE: "unknown command or option",
    ExitCode.CONFIG: "invalid configuration (an environment variable)",
    ExitCode.DATABASE_UNREACHABLE: "database unreachable, login refused, or no such database",
    ExitCode.SCHEMA: "database schema missing, behind or ahead of this lumi",
    ExitCode.REDIS_UNREACHABLE: "Redis unreachable or refusing the login",
    ExitCode.UNKNOWN_STREAM: "unknown stream",
    ExitCode.BAD_INPUT: "malformed input (an entry id, an e-mail address)",
    ExitCode.NOT_FOUND: "no such dead letter, user or request",
    ExitCode.STORAGE: "storage not writable",
    ExitCode.STREAMS_NOT_READY: "job streams or consumer groups missing",
    ExitCode.INTERNAL: "unexpected error (a bug: run again with --debug, report the traceback)",
    ExitCode.INTERRUPTED: "interrupted; long operations stop between items: run them again",
}


def run_async(
    handler: Callable[[Any], Coroutine[Any, Any, int]],
) -> Callable[[Any], int]:
    """A command's coroutine as its `run`; asyncio itself is imported only when one runs."""

    def run(args: Any) -> int:
        import asyncio

        return asyncio.run(handler(args))

    return run


class CliError(Exception):
    """A failure an operator can act on: what is wrong, and what to do about it."""

    def __init__(self, code: ExitCode, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.code = code
        self.problem = problem
        self.fix = fix

    def line(self) -> str:
        return f"lumi: {self.problem}; {self.fix}"


def unknown_stream(name: str, known: list[str]) -> CliError:
    return CliError(
        ExitCode.UNKNOWN_STREAM, f"unknown stream {name!r}", f"use {' or '.join(known)}"
    )


def from_exception(error: BaseException) -> CliError:
    """The class of an error that reached the top of a command."""
    for mapper in (_database, _redis, _input):
        found = mapper(error)
        if found is not None:
            return found
    return CliError(
        ExitCode.INTERNAL,
        f"unexpected error: {type(error).__name__}: {error}",
        "run again with --debug for the traceback, and report it",
    )


def _database(error: BaseException) -> CliError | None:
    from lumi_common.db import probe

    if isinstance(error, probe.DatabaseUnavailable):
        return database_unreachable(error.url, error.reason)
    if isinstance(error, probe.SchemaNotReady):
        return schema_not_ready(error)
    found = probe.classify(error)
    if found is None:
        return None
    problem, reason = found
    if problem == "schema":
        return CliError(ExitCode.SCHEMA, f"the database schema is behind: {reason}", UPGRADE)
    return CliError(ExitCode.DATABASE_UNREACHABLE, f"lost the database: {reason}", CHECK_DATABASE)


UPGRADE = "run `lumi db upgrade`"
CHECK_DATABASE = "check DATABASE_URL, that the server runs and that the database exists"


def database_unreachable(url: str, reason: str) -> CliError:
    return CliError(
        ExitCode.DATABASE_UNREACHABLE, f"cannot use the database {url}: {reason}", CHECK_DATABASE
    )


def schema_not_ready(error: SchemaNotReady) -> CliError:
    state, where = error.state, f"the database {error.url}"
    if error.detail:  # an SQLite file not created yet
        return CliError(ExitCode.SCHEMA, error.detail, f"{UPGRADE} (it creates it)")
    if state.status == "missing":
        return CliError(ExitCode.SCHEMA, f"{where} has no Lumi tables yet", UPGRADE)
    if state.status == "behind":
        problem = f"the schema of {where} is behind ({state})"
        return CliError(ExitCode.SCHEMA, problem, UPGRADE)
    return CliError(
        ExitCode.SCHEMA,
        f"the schema of {where} is newer than this lumi ({state})",
        "use the lumi of the version that migrated it",
    )


def _redis(error: BaseException) -> CliError | None:
    if not type(error).__module__.startswith("redis"):
        return None
    from redis.exceptions import AuthenticationError, ConnectionError, ResponseError, TimeoutError

    if isinstance(error, (ConnectionError, TimeoutError, AuthenticationError)):
        return redis_unreachable(None, str(error))
    if isinstance(error, ResponseError) and str(error).startswith(("NOAUTH", "WRONGPASS")):
        return redis_unreachable(None, str(error))
    return None


def redis_unreachable(url: str | None, reason: str) -> CliError:
    where = f"Redis at {url}" if url else "Redis"
    return CliError(
        ExitCode.REDIS_UNREACHABLE,
        f"cannot use {where}: {reason}",
        "check REDIS_URL (and its password) and that the server runs",
    )


def _input(error: BaseException) -> CliError | None:
    from lumi_common.streams.dlq import InvalidEntryId

    if isinstance(error, InvalidEntryId):
        return CliError(ExitCode.BAD_INPUT, str(error), "copy the id from `lumi dlq list`")
    return None
