"""Models with what their responses show (owner's name, generation job). Nothing here commits.

Every list loads its models, owners and jobs in one query, however many rows it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from lumi_common.db.changes import changed
from lumi_common.db.tables import Model, ModelInteraction, ModelJob, User
from lumi_common.public_names import public_name
from lumi_common.states import InteractionType, JobStatus, Visibility


class OwnSort(StrEnum):
    LATEST = "latest"
    NAME = "name"
    POPULAR = "popular"
    LIKED = "liked"  # what mobile sends to the gallery; harmless to honour here too


@dataclass(frozen=True, slots=True)
class ModelRecord:
    model: Model
    owner_name: str
    job: ModelJob | None


def listed() -> ColumnElement[bool]:
    """In the gallery: public and completed (`published_at` is set exactly then)."""
    return and_(Model.visibility == Visibility.PUBLIC, Model.published_at.is_not(None))


def visible_to(user_id: str) -> ColumnElement[bool]:
    return or_(listed(), Model.user_id == user_id)


def is_listed(model: Model) -> bool:
    return model.visibility is Visibility.PUBLIC and model.published_at is not None


def can_see(model: Model, user_id: str | None) -> bool:
    return is_listed(model) or model.user_id == user_id


_OWN_ORDER: dict[OwnSort, tuple[ColumnElement[Any], ...]] = {
    OwnSort.LATEST: (Model.created_at.desc(), Model.id.desc()),
    OwnSort.NAME: (Model.name.asc(), Model.id.asc()),
    OwnSort.POPULAR: (Model.view_count.desc(), Model.id.desc()),
    OwnSort.LIKED: (Model.like_count.desc(), Model.id.desc()),
}


# the job is outer-joined: None at run time when the model has none
RecordSelect = Select[Model, str | None, ModelJob]


def with_owner_and_job() -> RecordSelect:
    return (
        select(Model, User.nick_name, ModelJob)
        .join(User, User.id == Model.user_id)
        .outerjoin(ModelJob, ModelJob.model_id == Model.id)
    )


class ModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def load(self, model_id: str) -> ModelRecord | None:
        records = await self.records(
            # a reload inside a unit of work must see what it wrote
            with_owner_and_job()
            .where(Model.id == model_id)
            .execution_options(populate_existing=True)
        )
        return records[0] if records else None

    async def lock(self, model_id: str) -> Model | None:
        query = (
            select(Model)
            .where(Model.id == model_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def job_status(self, model_id: str) -> JobStatus | None:
        return await self.session.scalar(
            select(ModelJob.status).where(ModelJob.model_id == model_id)
        )

    async def delete(self, model_id: str) -> bool:
        """Its interactions and job go with it (ON DELETE CASCADE)."""
        rows = await changed(
            self.session,
            delete(Model).where(Model.id == model_id).execution_options(synchronize_session=False),
        )
        return rows == 1

    async def add_to_counter(
        self, counter: InstrumentedAttribute[int], delta: int, *, model_id: str
    ) -> None:
        """`counter = counter + delta` in the database; a counter is not an edit of the model,
        so `updated_at` keeps its value (its ORM default would bump it)."""
        await self.session.execute(
            update(Model)
            .where(Model.id == model_id)
            .values({counter: counter + delta, Model.updated_at: Model.updated_at})
            .execution_options(synchronize_session=False)
        )

    async def owned(
        self,
        user_id: str,
        *,
        visibility: Visibility | None,
        sort: OwnSort,
        limit: int,
        offset: int,
    ) -> list[ModelRecord]:
        query = with_owner_and_job().where(Model.user_id == user_id)
        if visibility is not None:
            query = query.where(Model.visibility == visibility)
        return await self.records(query.order_by(*_OWN_ORDER[sort]).limit(limit).offset(offset))

    async def owned_counts(self, user_id: str, *, visibility: Visibility | None) -> tuple[int, int]:
        """The user's models matching `visibility` (all when None), and their public ones."""
        matching = (
            func.count()
            if visibility is None
            else func.sum(_one_if(Model.visibility == visibility))
        )
        public = func.sum(_one_if(Model.visibility == Visibility.PUBLIC))
        row = (
            await self.session.execute(select(matching, public).where(Model.user_id == user_id))
        ).one()
        return int(row[0] or 0), int(row[1] or 0)

    async def interacted(
        self, user_id: str, kind: InteractionType, *, limit: int, offset: int
    ) -> list[ModelRecord]:
        """The models the user liked or favourited, newest interaction first, that they may
        still see (a model made private by its owner drops out; a deleted one is gone)."""
        query = (
            with_owner_and_job()
            .join(ModelInteraction, ModelInteraction.model_id == Model.id)
            .where(
                ModelInteraction.user_id == user_id,
                ModelInteraction.type == kind,
                visible_to(user_id),
            )
            .order_by(ModelInteraction.created_at.desc(), ModelInteraction.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return await self.records(query)

    async def records(self, query: RecordSelect) -> list[ModelRecord]:
        rows = (await self.session.execute(query)).all()
        return [
            ModelRecord(
                model=model,
                owner_name=public_name(user_id=model.user_id, nick_name=nick_name),
                job=job,
            )
            for model, nick_name, job in rows
        ]


def _one_if(condition: ColumnElement[bool]) -> Any:
    return case((condition, 1), else_=0)
