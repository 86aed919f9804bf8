"""Handlers' successes, recorded together: one transaction completes every job that finished
while the previous one was being written (group commit), with what each kind makes of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.group_commit import GroupCommit
from lumi_common.db.transactions import in_transaction
from lumi_common.jobs.lifecycle import Claim, JobLifecycle, JobRow, LeaseLost

R = TypeVar("R")
# what completing means beyond the job row (an image stored, its request's status), for the
# jobs that were still ours, in the same transaction
Recorder = Callable[[AsyncSession, Sequence[tuple[JobRow, R]]], Awaitable[None]]
Done = tuple[Claim, R, dict[str, Any]]


class Completions(Generic[R]):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        lifecycle: JobLifecycle,
        record: Recorder[R] | None = None,
        *,
        max_batch: int = 256,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._lifecycle = lifecycle
        self._record = record
        self._group: GroupCommit[Done[R], None] = GroupCommit(
            self._write, name="completions", max_batch=max_batch
        )

    async def complete(self, claim: Claim, result: R, **values: Any) -> None:
        """Complete a job we hold, with `values` for its row; raises LeaseLost if it is no
        longer ours (taken over, cancelled), in which case nothing of it was written."""
        await self._group.submit((claim, result, values))

    async def _write(self, done: list[Done[R]]) -> list[LeaseLost | None]:
        async def work(session: AsyncSession) -> set[str]:
            lost = await self._lifecycle.complete_many(
                session, [(claim, values) for claim, _, values in done]
            )
            kept = [(claim.job, result) for claim, result, _ in done if claim.job_id not in lost]
            if kept and self._record is not None:
                await self._record(session, kept)
            return lost

        # a completion is a compare-and-set: run again after it committed, it finds the jobs no
        # longer running and reports them lost, which is what the handler of a lost lease does
        lost = await in_transaction(self._sessionmaker, work, idempotent=True)
        return [LeaseLost(claim.job_id) if claim.job_id in lost else None for claim, _, _ in done]
