"""The gallery's SQL: list pages, interactions, and the counters views and downloads move.
Nothing here commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api.models.repository import listed, visible_to
from lumi_common.db.changes import changed
from lumi_common.db.tables import Model, ModelInteraction, User
from lumi_common.public_names import public_name
from lumi_common.states import InteractionType

# rows per UPDATE round trip when pending views are added
VIEW_BATCH = 500


class GallerySort(StrEnum):
    LATEST = "latest"
    POPULAR = "popular"
    LIKED = "liked"


# each order is an index's (ix_models_gallery_*): `visibility` equal, then the column, then id
_ORDER: dict[GallerySort, tuple[ColumnElement[Any], ...]] = {
    GallerySort.LATEST: (Model.published_at.desc(), Model.id.desc()),
    GallerySort.POPULAR: (Model.view_count.desc(), Model.id.desc()),
    GallerySort.LIKED: (Model.like_count.desc(), Model.id.desc()),
}


def page_query(sort: GallerySort, *, limit: int, offset: int) -> Select[Model]:
    """Served by the sort's gallery index, read in order: no filesort (a test EXPLAINs it)."""
    return select(Model).where(listed()).order_by(*_ORDER[sort]).limit(limit).offset(offset)


class GalleryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, sort: GallerySort, *, limit: int, offset: int) -> list[Model]:
        return list(await self.session.scalars(page_query(sort, limit=limit, offset=offset)))

    async def display_names(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The owners of a page, in one query (not joined to the page: that query must stay
        on its index whatever the optimiser thinks of the users table)."""
        wanted = set(user_ids)
        if not wanted:
            return {}
        query = select(User.id, User.nick_name).where(User.id.in_(wanted))
        rows = (await self.session.execute(query)).all()
        return {
            user_id: public_name(user_id=user_id, nick_name=nick_name)
            for user_id, nick_name in rows
        }

    async def total(self) -> int:
        return (
            await self.session.scalar(select(func.count()).select_from(Model).where(listed())) or 0
        )

    async def interactions_of(
        self, user_id: str, model_ids: Sequence[str]
    ) -> list[tuple[str, InteractionType]]:
        """The user's interactions with these models, in one query (the unique key serves it)."""
        if not model_ids:
            return []
        query = select(ModelInteraction.model_id, ModelInteraction.type).where(
            ModelInteraction.user_id == user_id, ModelInteraction.model_id.in_(model_ids)
        )
        return [(model_id, kind) for model_id, kind in (await self.session.execute(query)).all()]

    async def states(self, model_id: str, user_id: str | None) -> set[InteractionType] | None:
        """The user's interactions with one model, in one query; None when the caller may not
        see the model (unpublished and not theirs, or no such model)."""
        mine = and_(ModelInteraction.model_id == Model.id, ModelInteraction.user_id == user_id)
        query = (
            select(ModelInteraction.type)
            .select_from(Model)
            .outerjoin(ModelInteraction, mine)
            .where(Model.id == model_id, listed() if user_id is None else visible_to(user_id))
        )
        rows = (await self.session.execute(query)).all()
        if not rows:
            return None
        return {kind for (kind,) in rows if kind is not None}

    async def remove_interaction(
        self, *, user_id: str, model_id: str, kind: InteractionType
    ) -> bool:
        rows = await changed(
            self.session,
            delete(ModelInteraction)
            .where(
                ModelInteraction.user_id == user_id,
                ModelInteraction.model_id == model_id,
                ModelInteraction.type == kind,
            )
            .execution_options(synchronize_session=False),
        )
        return rows == 1

    async def add_interaction(self, interaction: ModelInteraction) -> None:
        self.session.add(interaction)
        await self.session.flush()

    async def count_download(self, *, model_id: str, user_id: str) -> bool:
        """+1 download of a model the user may see; False when there is none."""
        rows = await changed(
            self.session,
            update(Model)
            .where(Model.id == model_id, visible_to(user_id))
            .values(download_count=Model.download_count + 1, updated_at=Model.updated_at)
            .execution_options(synchronize_session=False),
        )
        return rows == 1

    async def add_views(self, counts: Mapping[str, int]) -> None:
        """`view_count = view_count + n` per model, in id order (row locks in one order), a
        batch of rows per round trip. A deleted model's views match no row and are dropped."""
        statement = (
            update(Model)
            .where(Model.id == bindparam("model"))
            .values(view_count=Model.view_count + bindparam("views"), updated_at=Model.updated_at)
        )
        # on the connection: the ORM would take a list of parameters for its bulk-by-key mode
        connection = await self.session.connection()
        for batch in _batches(sorted(counts.items()), VIEW_BATCH):
            await connection.execute(
                statement, [{"model": model_id, "views": n} for model_id, n in batch]
            )


def _batches(items: list[tuple[str, int]], size: int) -> Iterable[list[tuple[str, int]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
