"""Gallery rules: who may see a model, and what a like or favourite toggle writes.

A toggle takes the model's row lock first: concurrent toggles of one model serialise, so the
unique `(user, model, type)` key is never hit and each counter always equals its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api.gallery.repository import GalleryRepository
from lumi_api.models.repository import ModelRepository, can_see, is_listed
from lumi_api.models.service import ModelNotFound
from lumi_common.db.tables import Model, ModelInteraction
from lumi_common.ids import new_id
from lumi_common.states import InteractionType


@dataclass(frozen=True, slots=True)
class Toggled:
    is_interacted: bool
    kind: InteractionType
    like_count: int
    favorite_count: int
    listed: bool


async def toggle(
    session: AsyncSession, *, model_id: str, user_id: str, kind: InteractionType, now: datetime
) -> Toggled:
    """Add the interaction if absent, remove it if present; the counter moves in the same
    transaction. Only on a model the user may see (published, or their own)."""
    model = await ModelRepository(session).lock(model_id)
    if model is None or not can_see(model, user_id):
        raise ModelNotFound()
    gallery = GalleryRepository(session)
    removed = await gallery.remove_interaction(user_id=user_id, model_id=model_id, kind=kind)
    if not removed:
        interaction = ModelInteraction(
            id=new_id(), user_id=user_id, model_id=model_id, type=kind, created_at=now
        )
        await gallery.add_interaction(interaction)
    delta = -1 if removed else 1
    counter = Model.like_count if kind is InteractionType.LIKE else Model.favorite_count
    await ModelRepository(session).add_to_counter(counter, delta, model_id=model_id)
    # the locked row's counters plus our change: no re-read needed
    likes = model.like_count + (delta if kind is InteractionType.LIKE else 0)
    favorites = model.favorite_count + (delta if kind is InteractionType.FAVORITE else 0)
    return Toggled(
        is_interacted=not removed,
        kind=kind,
        like_count=likes,
        favorite_count=favorites,
        listed=is_listed(model),
    )
