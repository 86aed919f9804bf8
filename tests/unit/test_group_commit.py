"""Group commit: concurrent submissions share a write; a failing batch is retried item by item.

Ordered by events, not sleeps: a gated writer holds its writes until the test opens the gate,
and the test waits for a write to have started before it submits what must queue behind it."""

from __future__ import annotations

import asyncio

import pytest

from lumi_common.db.group_commit import GroupCommit


class Writes:
    def __init__(self, *, poison: int | None = None, gated: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.poison = poison
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()
        self._called = asyncio.Event()

    async def started(self, count: int) -> None:
        """Until `count` writes have started."""
        while len(self.batches) < count:
            self._called.clear()
            await self._called.wait()

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(items)
        self._called.set()
        await self.gate.wait()
        if self.poison in items:
            raise ValueError("one bad item fails its whole transaction")
        return [ValueError("odd") if item % 7 == 0 else item * 10 for item in items]


async def test_items_submitted_together_are_written_in_one_batch() -> None:
    writes = Writes()
    group: GroupCommit[int, int] = GroupCommit(writes, name="test")
    results = await asyncio.gather(*(group.submit(item) for item in (1, 2, 3)))
    assert results == [10, 20, 30]
    assert writes.batches == [[1, 2, 3]]


async def test_items_arriving_during_a_write_wait_for_the_next_one() -> None:
    writes = Writes(gated=True)
    group: GroupCommit[int, int] = GroupCommit(writes, name="test")
    first = asyncio.create_task(group.submit(1))
    await writes.started(1)
    later = [asyncio.create_task(group.submit(item)) for item in (2, 3, 4)]
    writes.gate.set()
    assert await asyncio.gather(first, *later) == [10, 20, 30, 40]
    assert writes.batches == [[1], [2, 3, 4]]


async def test_an_item_can_fail_alone_in_a_batch_that_succeeds() -> None:
    group: GroupCommit[int, int] = GroupCommit(Writes(), name="test")
    results = await asyncio.gather(
        group.submit(6), group.submit(7), group.submit(8), return_exceptions=True
    )
    assert results[0] == 60
    assert results[2] == 80
    assert isinstance(results[1], ValueError)


async def test_a_failing_batch_is_retried_one_by_one_so_only_the_poison_fails() -> None:
    writes = Writes(poison=2)
    group: GroupCommit[int, int] = GroupCommit(writes, name="test")
    results = await asyncio.gather(
        *(group.submit(item) for item in (1, 2, 3)), return_exceptions=True
    )
    assert results[0] == 10
    assert results[2] == 30
    assert isinstance(results[1], ValueError)
    assert writes.batches == [[1, 2, 3], [1], [2], [3]]


async def test_batches_are_capped() -> None:
    writes = Writes()
    group: GroupCommit[int, int] = GroupCommit(writes, name="test", max_batch=2)
    await asyncio.gather(*(group.submit(item) for item in (1, 2, 3, 4, 5)))
    assert writes.batches == [[1, 2], [3, 4], [5]]


async def test_a_cancelled_submitter_does_not_stop_the_others() -> None:
    writes = Writes(gated=True)
    group: GroupCommit[int, int] = GroupCommit(writes, name="test")
    cancelled = asyncio.create_task(group.submit(1))
    kept = asyncio.create_task(group.submit(2))
    await writes.started(1)
    cancelled.cancel()
    writes.gate.set()
    assert await kept == 20
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await group.wait_idle()
    assert writes.batches == [[1, 2]]  # written anyway: its submitter just stopped waiting


async def test_an_item_cancelled_before_its_batch_starts_is_not_written() -> None:
    writes = Writes(gated=True)
    group: GroupCommit[int, int] = GroupCommit(writes, name="test")
    first = asyncio.create_task(group.submit(1))
    await writes.started(1)  # the next ones queue
    dropped = asyncio.create_task(group.submit(2))
    kept = asyncio.create_task(group.submit(3))
    await asyncio.sleep(0)  # one turn of the loop: both are queued
    assert group.queued == 2
    dropped.cancel()
    writes.gate.set()
    assert list(await asyncio.gather(first, kept)) == [10, 30]
    assert dropped.cancelled()
    assert writes.batches == [[1], [3]]


class Overlaps(Writes):
    """Records how many writes were under way at once."""

    def __init__(self) -> None:
        super().__init__(gated=True)
        self.running = self.most = 0

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            return await super().__call__(items)
        finally:
            self.running -= 1


async def test_with_two_in_flight_the_next_batch_is_written_while_one_commits() -> None:
    writes = Overlaps()
    group: GroupCommit[int, int] = GroupCommit(writes, name="test", in_flight=2)
    first = asyncio.create_task(group.submit(1))
    await writes.started(1)  # the first write is under way: a second one may start
    second = asyncio.create_task(group.submit(2))
    await writes.started(2)  # both under way: what comes now waits for one to end
    later = [asyncio.create_task(group.submit(item)) for item in (3, 4, 5)]
    await asyncio.sleep(0)  # one turn of the loop: all three are queued
    assert group.queued == 3
    writes.gate.set()
    assert await asyncio.gather(first, second, *later) == [10, 20, 30, 40, 50]
    assert writes.batches == [[1], [2], [3, 4, 5]]
    assert writes.most == 2
    await group.wait_idle()
    assert group.queued == 0


async def test_an_item_submitted_as_the_last_batch_ends_is_written() -> None:
    # the flusher leaves the moment its queue is empty, so a submission in the same turn of the
    # event loop starts a new one instead of waiting for a flusher that is already done
    writes = Writes()
    group: GroupCommit[int, int] = GroupCommit(writes, name="test")

    async def one_after_another() -> list[int]:
        return [await group.submit(item) for item in range(1, 6)]

    assert await asyncio.wait_for(one_after_another(), 1) == [10, 20, 30, 40, 50]
    assert writes.batches == [[1], [2], [3], [4], [5]]


async def test_without_retry_alone_a_failed_batch_fails_every_item_once() -> None:
    writes = Writes(poison=2)
    group: GroupCommit[int, int] = GroupCommit(writes, name="test", retry_alone=False)
    results = await asyncio.gather(
        *(group.submit(item) for item in (1, 2, 3)), return_exceptions=True
    )
    assert all(isinstance(result, ValueError) for result in results)
    assert writes.batches == [[1, 2, 3]]  # the store failed: no second try per item
