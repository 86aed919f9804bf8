"""Every job transition is a compare-and-set on the job row.

`QUEUED → RUNNING → COMPLETED`, `RUNNING → RETRYING → RUNNING …`, or `FAILED` / `CANCELLED`.
A running job has a lease (owner, token, expiry). A delivery may take a job over only when it
is queued, retrying, parked between steps (running without owner) or its lease has expired, so a
duplicate or stale delivery finds nothing to change, and a healthy long job never runs twice.

Each claim writes a fresh random token, and everything its holder writes afterwards (renewals,
progress, the outcome) compares the job's id and that token: a holder whose lease expired and
whose job someone else claimed since finds nothing to change, whatever the clocks say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Table, Update, and_, bindparam, case, inspect, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.changes import changed
from lumi_common.db.tables import JobColumns
from lumi_common.db.types import UtcDateTime
from lumi_common.ids import new_id
from lumi_common.states import ACTIVE_JOB_STATUSES, TERMINAL_JOB_STATUSES, JobStatus
from lumi_common.time import utcnow

J = TypeVar("J", bound=JobColumns)
ERROR_MESSAGE_LIMIT = 2000


class LeaseLost(Exception):
    """The job is no longer ours (taken over, cancelled or finished): drop this outcome."""


class Refusal(Enum):
    MISSING = "missing"
    TERMINAL = "terminal"
    HELD = "held"


@dataclass(frozen=True, slots=True)
class Claim(Generic[J]):
    job_id: str
    attempt: int
    owner: str
    token: str  # written by this claim: (job_id, token) names it and no other
    job: J  # as it was claimed; the handler reads its fields without another query


def _claim_statement(table: Table) -> Update:
    """The claim, built once: every delivery runs it. Parameter names start with `_` so they
    never collide with a column (an UPDATE sets the columns its parameters name)."""
    t = table.c
    now = bindparam("_now", type_=UtcDateTime())
    parked = and_(t.status == JobStatus.RUNNING, t.lease_owner.is_(None))
    expired = and_(t.status == JobStatus.RUNNING, t.lease_expires_at < now)
    abandoned = and_(t.status == JobStatus.RUNNING, t.lease_owner == bindparam("_owner"))
    return (
        update(table)
        .where(
            t.id.in_(bindparam("_job_ids", expanding=True)),
            or_(t.status.in_([JobStatus.QUEUED, JobStatus.RETRYING]), parked, expired, abandoned),
        )
        # MySQL assigns left to right and later expressions see earlier results: the
        # attempt must be computed before status and lease_owner change
        .ordered_values(
            # continuing a parked multi-step job is the same attempt; anything else is new
            (t.attempt, case((parked, t.attempt), else_=t.attempt + 1)),
            (t.status, JobStatus.RUNNING),
            (t.lease_owner, bindparam("_owner")),
            (t.lease_token, bindparam("_token")),
            (t.lease_expires_at, bindparam("_expires", type_=UtcDateTime())),
            (t.started_at, case((t.started_at.is_(None), now), else_=t.started_at)),
            (t.updated_at, now),
        )
    )


class JobLifecycle(Generic[J]):
    def __init__(self, table: type[J], *, lease: timedelta) -> None:
        self.table = table
        self.lease = lease
        # the hot path (claim, then complete) runs Core statements on the table, built once:
        # building and running ORM-enabled statements cost more than the round trips
        core = cast(Table, inspect(table).local_table)
        self._core = core
        self._claim = _claim_statement(core)
        # the owner is compared too: a job taken over by code older than the token column
        # (a rolling deploy) keeps the token it had, but never the owner
        self._owned = and_(
            core.c.id == bindparam("_claim_job_id"),
            core.c.status == JobStatus.RUNNING,
            core.c.lease_owner == bindparam("_claim_owner"),
            core.c.lease_token == bindparam("_claim_token"),
        )
        held = and_(
            core.c.id.in_(bindparam("_ids", expanding=True)),
            core.c.status == JobStatus.RUNNING,
            core.c.lease_owner == bindparam("_owner"),
            tuple_(core.c.id, core.c.lease_token).in_(bindparam("_pairs", expanding=True)),
        )
        self._renew = (
            update(core)
            .where(held)
            .values(lease_expires_at=bindparam("_expires", type_=UtcDateTime()))
        )
        now = bindparam("_now", type_=UtcDateTime())
        self._complete_many = (
            update(core)
            .where(held)
            .values(
                status=JobStatus.COMPLETED,
                completed_at=now,
                lease_owner=None,
                # this statement's own token: which rows of the batch it completed (below)
                lease_token=bindparam("_settled"),
                lease_expires_at=None,
                error_code=None,
                error_message=None,
                updated_at=now,
            )
        )
        self._select_many = (
            select(table)
            .where(table.id.in_(bindparam("_ids", expanding=True)))
            # rows may sit in the identity map from before a bulk UPDATE: read them afresh
            .execution_options(populate_existing=True)
        )

    async def claim_many(
        self, session: AsyncSession, job_ids: Sequence[str], owner: str
    ) -> dict[str, Claim[J] | Refusal]:
        """Claim every job that may be taken, in one statement, and load them all in a second.

        The caller must not be running any of them (a consumer knows what it runs), so a row it
        holds anyway is a claim whose run never started or ended without an outcome (its commit
        failed after the fact, the handler crashed): it is taken again, as a new attempt, with a
        fresh lease. A row holding this call's token is one this call took (one token serves
        the whole batch: no two claims of one job share it).
        """
        now, token = utcnow(), new_id()
        params = {
            "_job_ids": list(job_ids),
            "_owner": owner,
            "_token": token,
            "_now": now,
            "_expires": now + self.lease,
        }
        claimed = await changed(session, self._claim, params)
        rows = await self._load(session, job_ids)  # the handlers get them with their claims
        outcomes: dict[str, Claim[J] | Refusal] = {}
        for job_id in job_ids:
            row = rows.get(job_id)
            if row is None:
                outcomes[job_id] = Refusal.MISSING
            elif claimed and row.status == JobStatus.RUNNING and row.lease_token == token:
                outcomes[job_id] = Claim(
                    job_id=job_id, attempt=row.attempt, owner=owner, token=token, job=row
                )
            elif row.status in TERMINAL_JOB_STATUSES:
                outcomes[job_id] = Refusal.TERMINAL
            else:
                outcomes[job_id] = Refusal.HELD
        return outcomes

    async def renew(self, session: AsyncSession, claims: Sequence[Claim[J]]) -> int:
        """Extend the leases of the claims still held; the number extended."""
        if not claims:
            return 0
        return await changed(
            session, self._renew, {**_held(claims), "_expires": utcnow() + self.lease}
        )

    async def complete(self, session: AsyncSession, claim: Claim[J], **values: Any) -> None:
        """Complete one job we hold (raises LeaseLost if we no longer do)."""
        if await self.complete_many(session, [(claim, values)]):
            raise LeaseLost(claim.job_id)

    async def complete_many(
        self, session: AsyncSession, done: Sequence[tuple[Claim[J], Mapping[str, Any]]]
    ) -> set[str]:
        """Complete many held jobs in one statement, each with its own column values; returns
        the ids of those that were no longer ours (their outcome is to be dropped)."""
        t, now, settled = self._core.c, utcnow(), new_id()
        claims = [claim for claim, _ in done]
        values: dict[str, Any] = {}
        for column in sorted({column for _, extra in done for column in extra}):
            given = {claim.job_id: extra[column] for claim, extra in done if column in extra}
            distinct = set(map(repr, given.values()))
            if len(given) == len(done) and len(distinct) == 1:
                values[column] = next(iter(given.values()))
            else:  # per job: CASE id WHEN … THEN … ELSE the current value
                values[column] = case(given, value=t.id, else_=t[column])
        statement = self._complete_many.values(**values) if values else self._complete_many
        params = {**_held(claims), "_now": now, "_settled": settled}
        if await changed(session, statement, params) == len(done):
            return set()
        ids = params["_ids"]
        ours = await session.scalars(select(t.id).where(t.id.in_(ids), t.lease_token == settled))
        return set(ids) - set(ours)

    async def update_running(self, session: AsyncSession, claim: Claim[J], **values: Any) -> None:
        """Record progress of a job we hold (raises LeaseLost if we no longer do)."""
        await self._transition(session, claim, updated_at=utcnow(), **values)

    async def park(
        self, session: AsyncSession, claim: Claim[J], *, until: datetime, **values: Any
    ) -> None:
        """Release the slot between steps; the job stays RUNNING and the next step resumes it.

        The lease runs past the next step's time, so the reconciler notices a lost step message.
        """
        await self._transition(
            session,
            claim,
            lease_owner=None,
            lease_token=None,
            lease_expires_at=until + self.lease,
            next_attempt_at=until,
            updated_at=utcnow(),
            **values,
        )

    async def retry(
        self, session: AsyncSession, claim: Claim[J], *, at: datetime, error: str, code: str
    ) -> None:
        await self._transition(
            session,
            claim,
            status=JobStatus.RETRYING,
            lease_owner=None,
            lease_token=None,
            lease_expires_at=None,
            next_attempt_at=at,
            error_code=code,
            error_message=error[:ERROR_MESSAGE_LIMIT],
            updated_at=utcnow(),
        )

    async def fail(
        self,
        session: AsyncSession,
        job_id: str,
        *,
        owner: str,
        claim: Claim[J] | None,
        error: str,
        code: str,
    ) -> J | None:
        """Fail the job of `claim` while it is still ours; without a claim (a message refused
        before claiming), a job `owner` holds or nobody does. None when it is not ours to fail."""
        t, now = self._core.c, utcnow()
        if claim is not None:
            ours, params = self._owned, _owned_by(claim)
        else:
            ours = and_(
                t.id == job_id,
                t.status.in_(ACTIVE_JOB_STATUSES),
                or_(t.lease_owner.is_(None), t.lease_owner == owner, t.lease_expires_at < now),
            )
            params = {}
        failed = await changed(
            session,
            update(self._core)
            .where(ours)
            .values(
                status=JobStatus.FAILED,
                failed_at=now,
                lease_owner=None,
                lease_token=None,
                lease_expires_at=None,
                error_code=code,
                error_message=error[:ERROR_MESSAGE_LIMIT],
                updated_at=now,
            ),
            params,
        )
        return await self.get(session, job_id) if failed == 1 else None

    async def requeue_failed(self, session: AsyncSession, job_id: str) -> J | None:
        """An operator's replay: FAILED → QUEUED with fresh attempts; None if not FAILED."""
        t, now = self.table, utcnow()
        requeued = await changed(
            session,
            update(t)
            .where(t.id == job_id, t.status == JobStatus.FAILED)
            .values(
                status=JobStatus.QUEUED,
                attempt=0,
                failed_at=None,
                completed_at=None,
                error_code=None,
                error_message=None,
                next_attempt_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False),
        )
        return await self.get(session, job_id) if requeued == 1 else None

    async def cancel_active(self, session: AsyncSession, *, request_id: str) -> int:
        """Cancel the request's queued, running and retrying jobs: a delivery then finds nothing
        to claim, and a worker mid-job loses its lease, so its outcome is dropped."""
        t, now = self._core.c, utcnow()  # Core: not every kind's jobs belong to a request
        return await changed(
            session,
            update(self._core)
            .where(t.request_id == request_id, t.status.in_(ACTIVE_JOB_STATUSES))
            .values(
                status=JobStatus.CANCELLED,
                lease_owner=None,
                lease_token=None,
                lease_expires_at=None,
                next_attempt_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False),
        )

    async def get(self, session: AsyncSession, job_id: str) -> J | None:
        query = select(self.table).where(self.table.id == job_id)
        # the row may sit in the identity map from before a bulk UPDATE: read it afresh
        result = await session.execute(query.execution_options(populate_existing=True))
        return result.scalar_one_or_none()

    async def _load(self, session: AsyncSession, job_ids: Sequence[str]) -> dict[str, J]:
        result = await session.scalars(self._select_many, {"_ids": list(job_ids)})
        rows = cast(list[J], list(result))
        return {row.id: row for row in rows}

    async def _transition(self, session: AsyncSession, claim: Claim[J], **values: Any) -> None:
        statement = update(self._core).where(self._owned).values(**values)
        if await changed(session, statement, _owned_by(claim)) != 1:
            raise LeaseLost(claim.job_id)


def _owned_by(claim: Claim[Any]) -> dict[str, str]:
    return {
        "_claim_job_id": claim.job_id,
        "_claim_owner": claim.owner,
        "_claim_token": claim.token,
    }


def _held(claims: Sequence[Claim[Any]]) -> dict[str, Any]:
    """The parameters naming `claims`, all of one consumer's, in a statement on many jobs."""
    owners = {claim.owner for claim in claims}
    assert len(owners) == 1, "one consumer writes for its own claims"
    return {
        "_ids": [claim.job_id for claim in claims],
        "_owner": owners.pop(),
        "_pairs": [(claim.job_id, claim.token) for claim in claims],
    }
