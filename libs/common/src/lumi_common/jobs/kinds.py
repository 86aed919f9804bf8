"""What the runtime needs to know about a kind of job beyond its row: where its messages go and
what failing or re-queueing it means for the rest of the data (images, models, requests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.jobs.lifecycle import JobLifecycle, JobRow
from lumi_common.messages import JobMessage


class JobKind(Protocol):
    @property
    def stream(self) -> str: ...

    @property
    def lifecycle(self) -> JobLifecycle: ...

    def parse(self, message: object) -> JobMessage | None:
        """The message if it is one of this kind's, else None (it is then poison)."""

    async def message_for(self, session: AsyncSession, job: JobRow, *, attempt: int) -> JobMessage:
        """A message that (re)starts `job`, carrying its request's trace id."""

    async def on_claimed(self, session: AsyncSession, jobs: Sequence[JobRow]) -> None:
        """Show the clients that these jobs started, in the transaction that claimed them."""

    async def on_failed(self, session: AsyncSession, job: JobRow, error: str) -> None:
        """Make a terminal failure visible to the client, in the failing transaction."""

    async def on_requeued(self, session: AsyncSession, job: JobRow) -> None:
        """Undo what `on_failed` did, when an operator replays the job."""
