"""A kind of job, as the runtime, the reconciler and operators see it: its row type `J`, its
message type `M`, the stream its messages go to, and what starting, failing or re-queueing one
of its jobs means for the rest of the data (images, models, requests).

A new kind subclasses `JobKind[J, M]`, names its `stream`, `table` and `message_type`, writes
`message_for`, and overrides the hooks it needs; the others change nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import JobColumns
from lumi_common.i18n import Message, jobs
from lumi_common.jobs.lifecycle import Claim, JobLifecycle
from lumi_common.messages import JobMessage, UndecodableMessage

J = TypeVar("J", bound=JobColumns)
M = TypeVar("M", bound=JobMessage)


class JobKind(ABC, Generic[J, M]):
    stream: str  # the logical stream name (`lumi_common.streams.names`)
    table: type[J]
    message_type: type[M]
    # what the client reads on a failed job whose error has no sentence of its own
    failed_message: ClassVar[Message] = jobs.GENERATION_FAILED

    def __init__(self, *, lease: timedelta) -> None:
        self.lifecycle = JobLifecycle(self.table, lease=lease)

    def parse(self, data: bytes | str) -> M:
        """The message in `data`; UndecodableMessage when it is not one of this kind's."""
        try:
            return self.message_type.model_validate_json(data)
        except ValidationError as exc:
            raise UndecodableMessage(str(exc)) from exc

    @abstractmethod
    async def message_for(self, session: AsyncSession, job: J, *, attempt: int) -> M:
        """A message that (re)starts `job`, carrying its request's trace id."""

    async def on_claimed(self, session: AsyncSession, jobs: Sequence[J]) -> None:
        """Show the clients that these jobs started, in the transaction that claimed them."""

    async def on_progress(self, session: AsyncSession, job: J) -> None:
        """Show the client that the job moved on (progress, a poll), in the transaction that
        wrote it to the job row."""

    async def on_failed(self, session: AsyncSession, job: J, error: str) -> None:
        """Make a terminal failure visible to the client, in the failing transaction."""

    async def on_requeued(self, session: AsyncSession, job: J) -> None:
        """Undo what `on_failed` did, when an operator replays the job."""


async def record_progress(
    sessionmaker: async_sessionmaker[AsyncSession],
    kind: JobKind[J, Any],
    claim: Claim[J],
    **values: Any,
) -> None:
    """Write job columns now, in the middle of a run (a provider's task id once submitted, so a
    crash never pays twice), and show the client (raises LeaseLost if the job is not ours)."""
    async with sessionmaker.begin() as session:
        await kind.lifecycle.update_running(session, claim, **values)
        await kind.on_progress(session, claim.job)
