"""Group commit: small writes submitted at about the same time share one transaction.

A worker settles many short jobs at once, and on this stack every transaction costs far more CPU
than the rows it writes. Callers `submit` an item and wait for its own result; while one batch is
being written, the items submitted meanwhile wait for the next, so a busy process writes in
batches and an idle one writes each item at once, with no timer adding latency.

A batch that fails is written again one item at a time, so each item gets the outcome it would
have had alone: a single bad item (a poison job, a lost unique-key race) fails alone instead of
taking its neighbours down with it.

`retry_alone=False` hands a failed batch's error to every item instead: for writes whose failure
is the store's, not an item's (Redis down), where retrying each item alone would only multiply
the wait.

`in_flight` batches may be written at once (each in its own transaction): with one, a process
whose every caller waits in the batch being written has nothing to do until it commits; with
two, the next batch is built and sent meanwhile. Batches then commit in any order, so only
writers whose items are independent of each other should ask for more than one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import structlog

T = TypeVar("T")
R = TypeVar("R")
log = structlog.get_logger(__name__)

# `write` returns, per item and in order, its result or the exception its submitter should see
Writer = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        write: Writer[T, R],
        *,
        name: str,
        max_batch: int = 256,
        in_flight: int = 1,
        retry_alone: bool = True,
    ) -> None:
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._retry_alone = retry_alone
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._flushers: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if len(self._flushers) < self._in_flight:
            self._flushers.add(asyncio.create_task(self._flush()))
        try:
            return await future
        except asyncio.CancelledError:
            # not taken into a batch yet: never written (once taken, it commits with the others,
            # as a commit already in flight does)
            self._queue[:] = [queued for queued in self._queue if queued[1] is not future]
            raise

    @property
    def queued(self) -> int:
        """Items waiting for the next batch (a writer can tell whether another write follows)."""
        return len(self._queue)

    @property
    def writing(self) -> int:
        """Batches being written now, counting the caller's own when asked from `write`."""
        return len(self._flushers)

    async def wait_idle(self) -> None:
        """Until what was submitted is written (shutdown: before the engine is disposed)."""
        while self._flushers:
            await asyncio.wait(self._flushers)

    async def _flush(self) -> None:
        # no wait before the first write: tasks started in the same turn of the event loop (the
        # messages of one read) were scheduled before this one, so they have submitted already
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._write_batch(batch)
        except BaseException as exc:
            for _, future in self._queue:
                _settle(future, exc)
            self._queue.clear()
            raise
        finally:
            # at once, not in a done callback: an item submitted before that would find no room
            # for a flusher and wait for none
            self._flushers.discard(asyncio.current_task())

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            outcomes = await self._write([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to the submitters, or retried alone
            if len(batch) == 1 or not self._retry_alone:
                for _, future in batch:
                    _settle(future, exc)
                return
            log.warning(
                "group_commit.batch_failed", writer=self._name, size=len(batch), error=repr(exc)
            )
            for pair in batch:
                await self._write_batch([pair])
            return
        except BaseException as exc:  # cancelled: every waiter of this batch hears it
            for _, future in batch:
                _settle(future, exc)
            raise
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():  # its submitter was cancelled meanwhile
        return
    if isinstance(outcome, asyncio.CancelledError):
        future.cancel()
    elif isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
