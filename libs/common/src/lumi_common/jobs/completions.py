"""Handlers' successes, recorded together: one transaction completes every job that finished
while the previous one was being written (group commit), with what the worker makes of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.group_commit import GroupCommit
from lumi_common.db.tables import JobColumns
from lumi_common.db.transactions import in_transaction
from lumi_common.jobs.lifecycle import Claim, JobLifecycle, LeaseLost

J = TypeVar("J", bound=JobColumns)
R = TypeVar("R")
# what completing means beyond the job row (an image stored, its request's status), for the
# jobs that were still ours, in the same transaction
Recorder = Callable[[AsyncSession, Sequence[tuple[J, R]]], Awaitable[None]]
# after that transaction committed (a cache other processes read must notice)
AfterCommit = Callable[[Sequence[tuple[J, R]]], Awaitable[None]]
Finished = tuple[Claim[J], R, Mapping[str, Any]]


class Completions(Generic[J, R]):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        lifecycle: JobLifecycle[J],
        record: Recorder[J, R] | None = None,
        *,
        after_commit: AfterCommit[J, R] | None = None,
        max_batch: int = 256,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._lifecycle = lifecycle
        self._record = record
        self._after_commit = after_commit
        self._group: GroupCommit[Finished[J, R], None] = GroupCommit(
            self._write, name="completions", max_batch=max_batch
        )

    async def complete(self, claim: Claim[J], result: R, values: Mapping[str, Any]) -> None:
        """Complete a job we hold, with `values` for its row; raises LeaseLost if it is no
        longer ours (taken over, cancelled), in which case nothing of it was written."""
        await self._group.submit((claim, result, values))

    async def wait_idle(self) -> None:
        await self._group.wait_idle()

    async def _write(self, done: list[Finished[J, R]]) -> list[LeaseLost | None]:
        async def work(session: AsyncSession) -> tuple[set[str], list[tuple[J, R]]]:
            lost = await self._lifecycle.complete_many(
                session, [(claim, values) for claim, _, values in done]
            )
            kept = [(claim.job, result) for claim, result, _ in done if claim.job_id not in lost]
            if kept and self._record is not None:
                await self._record(session, kept)
            return lost, kept

        # a completion is a compare-and-set: run again after it committed, it finds the jobs no
        # longer running and reports them lost, which is what the handler of a lost lease does
        lost, kept = await in_transaction(self._sessionmaker, work, idempotent=True)
        if kept and self._after_commit is not None:
            await self._after_commit(kept)
        return [LeaseLost(claim.job_id) if claim.job_id in lost else None for claim, _, _ in done]
