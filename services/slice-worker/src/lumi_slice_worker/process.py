"""One external program run under limits: no shell, its own process group, a wall-clock time
limit, an address-space limit where the OS has one, and nothing left running afterwards.

The program is started in a new session, so it and every process it starts share one process
group: a time-out, a cancellation (the worker's SIGTERM grace ran out) or an error here kills the
whole group, then reaps the program, before the exception leaves `run_limited`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

# how much of the program's output is kept (its end), for logs and error messages
OUTPUT_TAIL_BYTES = 16 * 1024
READ_CHUNK = 4096
# after SIGTERM to the group, how long the program may take to exit before SIGKILL
TERM_GRACE_SECONDS = 1.0
GROUP_POLL_SECONDS = 0.02

log = structlog.get_logger(__name__)


class TimedOut(Exception):
    """The program ran past its time limit and was killed with its process group."""


@dataclass(frozen=True, slots=True)
class Finished:
    returncode: int  # negative: killed by that signal
    output: str  # the end of stdout and stderr, interleaved as written

    @property
    def last_line(self) -> str:
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        return lines[-1] if lines else ""


@dataclass(frozen=True, slots=True)
class Limits:
    timeout_seconds: float
    memory_bytes: int | None  # RLIMIT_AS; None: no limit


async def run_limited(
    argv: Sequence[str], *, cwd: Path, limits: Limits, env: Mapping[str, str] | None = None
) -> Finished:
    """Run `argv` (never through a shell) and return how it ended, or raise `TimedOut`."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own session and process group, which we kill whole
    )
    try:
        _limit_memory(process.pid, limits.memory_bytes)
        tail = _Tail(OUTPUT_TAIL_BYTES)
        assert process.stdout is not None
        try:
            async with asyncio.timeout(limits.timeout_seconds):
                await tail.read_all(process.stdout)
                returncode = await process.wait()
        except TimeoutError:
            raise TimedOut(f"still running after {limits.timeout_seconds:g} s") from None
        return Finished(returncode=returncode, output=tail.text())
    finally:
        # also on success: a child the program left behind in its group must not outlive it
        await _kill_group(process)


def _limit_memory(pid: int, limit: int | None) -> None:
    """Set the child's address-space limit. `prlimit` on the child rather than a `preexec_fn`
    (unsafe in a process with threads): the program has just been started and allocates its
    working memory only once it has read its input, well after this call."""
    if limit is None:
        return
    prlimit = getattr(resource, "prlimit", None)
    if prlimit is None:  # not Linux: no way to limit another process
        log.warning("process.memory_limit.unavailable", pid=pid)
        return
    with contextlib.suppress(ProcessLookupError):  # it already ended
        prlimit(pid, resource.RLIMIT_AS, (limit, limit))


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the group, SIGKILL after a grace, then reap: never a zombie or a survivor.
    Shielded: a cancellation arriving meanwhile waits for the group to be gone, then goes on."""
    ending = asyncio.ensure_future(_terminate(process))
    try:
        await asyncio.shield(ending)
    except asyncio.CancelledError:
        await ending
        raise


async def _terminate(process: asyncio.subprocess.Process) -> None:
    pgid = process.pid  # the session leader's pid is its group id
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _signal_group(pgid, sig):
            break  # nobody left in the group
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TERM_GRACE_SECONDS):
                await process.wait()
                await _until_gone(pgid)  # the children it started may still be exiting
                break
    await process.wait()


async def _until_gone(pgid: int) -> None:
    # nothing signals that a process group emptied: ask it
    while _signal_group(pgid, 0):  # noqa: ASYNC110 - no event to wait on
        await asyncio.sleep(GROUP_POLL_SECONDS)


def _signal_group(pgid: int, sig: int) -> bool:
    """False when the group has no process left (signal 0 only asks)."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


class _Tail:
    """The last `size` bytes of a stream, read to its end (a chatty program cannot fill memory)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data = bytearray()

    async def read_all(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(READ_CHUNK):
            self.data += chunk
            if len(self.data) > 2 * self.size:
                del self.data[: -self.size]

    def text(self) -> str:
        return bytes(self.data[-self.size :]).decode("utf-8", errors="replace")
