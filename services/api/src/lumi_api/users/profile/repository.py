"""A user with their stats in one statement, and profile updates. Nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Subquery, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import GenerationRequest, Model, ModelInteraction, User
from lumi_common.states import InteractionType, RequestStatus, Visibility

FAILED_REQUESTS = (RequestStatus.IMAGE_FAILED, RequestStatus.MODEL_FAILED, RequestStatus.FAILED)


@dataclass(frozen=True, slots=True)
class UserStats:
    total_models: int
    public_models: int
    private_models: int
    # likes, favorites, views and downloads received by the user's public models
    total_likes: int
    total_favorites: int
    total_views: int
    total_downloads: int
    # what the user liked and favorited
    liked_models_count: int
    favorited_models_count: int
    total_requests: int
    completed_requests: int
    failed_requests: int


class ProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def with_stats(self, user_id: str) -> tuple[User, UserStats] | None:
        """The user and every stat in one statement: one aggregate per table, joined to the user."""
        models, interactions, requests = (
            _model_totals(user_id),
            _interaction_totals(user_id),
            _request_totals(user_id),
        )
        totals = [
            column
            for subquery in (models, interactions, requests)
            for column in subquery.c
            if column.key != "user_id"
        ]
        query = (
            select(User, *totals)
            .outerjoin(models, models.c.user_id == User.id)
            .outerjoin(interactions, interactions.c.user_id == User.id)
            .outerjoin(requests, requests.c.user_id == User.id)
            .where(User.id == user_id)
        )
        row = (await self.session.execute(query)).one_or_none()
        if row is None:
            return None
        numbers = row._mapping
        stats = UserStats(
            **{name: int(numbers[name] or 0) for name in UserStats.__dataclass_fields__}
        )
        return row[0], stats

    async def update(self, user_id: str, values: dict[str, str | None], *, now: datetime) -> None:
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(**values, updated_at=now)
            .execution_options(synchronize_session=False)
        )


def _sum_if(condition: ColumnElement[bool], value: Any = 1) -> ColumnElement[Any]:
    # SUM is NULL over no rows and DECIMAL on MySQL: the caller turns it into an int
    return func.sum(case((condition, value), else_=0))


def _model_totals(user_id: str) -> Subquery:
    public = Model.visibility == Visibility.PUBLIC
    return (
        select(
            Model.user_id,
            func.count().label("total_models"),
            _sum_if(public).label("public_models"),
            _sum_if(Model.visibility == Visibility.PRIVATE).label("private_models"),
            _sum_if(public, Model.like_count).label("total_likes"),
            _sum_if(public, Model.favorite_count).label("total_favorites"),
            _sum_if(public, Model.view_count).label("total_views"),
            _sum_if(public, Model.download_count).label("total_downloads"),
        )
        .where(Model.user_id == user_id)
        .group_by(Model.user_id)
        .subquery("model_totals")
    )


def _interaction_totals(user_id: str) -> Subquery:
    return (
        select(
            ModelInteraction.user_id,
            _sum_if(ModelInteraction.type == InteractionType.LIKE).label("liked_models_count"),
            _sum_if(ModelInteraction.type == InteractionType.FAVORITE).label(
                "favorited_models_count"
            ),
        )
        .where(ModelInteraction.user_id == user_id)
        .group_by(ModelInteraction.user_id)
        .subquery("interaction_totals")
    )


def _request_totals(user_id: str) -> Subquery:
    return (
        select(
            GenerationRequest.user_id,
            func.count().label("total_requests"),
            _sum_if(GenerationRequest.status == RequestStatus.COMPLETED).label(
                "completed_requests"
            ),
            _sum_if(GenerationRequest.status.in_(FAILED_REQUESTS)).label("failed_requests"),
        )
        .where(GenerationRequest.user_id == user_id)
        .group_by(GenerationRequest.user_id)
        .subquery("request_totals")
    )
