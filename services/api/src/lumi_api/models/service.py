"""What an owner may do to a model: rename it, publish or unpublish it, delete it.

Each function runs inside the caller's transaction, takes the model's row lock before changing
it, and says whether the gallery's lists changed (the caller bumps the cache after the commit).
A change the model's task shows (`task.model`: its name, description, visibility, or the model
gone) bumps the task too, in the same transaction, so a client polling it with `?since=` sees it;
the task's row lock is taken first, as every writer of a task does (no lock-order deadlock with a
worker's outcome). A model without a task has nothing to bump. Counters other users change
(likes, favourites, downloads) do not bump the owner's task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api import texts
from lumi_api.models.repository import ModelRecord, ModelRepository, is_listed
from lumi_common.db.tables import GenerationRequest, Model
from lumi_common.errors import Forbidden, InvalidState, NotFound
from lumi_common.pipeline.requests import lock_request, touch
from lumi_common.states import ACTIVE_JOB_STATUSES, Visibility


class ModelNotFound(NotFound):
    default_message = texts.MODEL_NOT_FOUND


class NotModelOwner(Forbidden):
    default_message = texts.NOT_MODEL_OWNER


class ModelNotCompleted(InvalidState):
    default_message = texts.MODEL_NOT_COMPLETED


class ModelStillGenerating(InvalidState):
    default_message = texts.MODEL_STILL_GENERATING


@dataclass(frozen=True, slots=True)
class ModelChange:
    record: ModelRecord
    gallery_changed: bool


async def rename(
    session: AsyncSession,
    *,
    model_id: str,
    user_id: str,
    name: str | None,
    description: str | None,
    set_description: bool,
    now: datetime,
) -> ModelChange:
    repo = ModelRepository(session)
    task, model = await _lock_owned(session, repo, model_id, user_id)
    changed = False
    if name is not None and name != model.name:
        model.name, changed = name, True
    if set_description and description != model.description:
        model.description, changed = description, True
    if changed:
        model.updated_at = now
        if task is not None:
            touch(task)
        await session.flush()
    return ModelChange(await _reload(repo, model_id), gallery_changed=changed and is_listed(model))


async def set_visibility(
    session: AsyncSession, *, model_id: str, user_id: str, visibility: Visibility, now: datetime
) -> ModelChange:
    """Public only once completed; `published_at` is set exactly while public and completed.
    Publishing an already published model keeps its place in the "latest" order."""
    repo = ModelRepository(session)
    task, model = await _lock_owned(session, repo, model_id, user_id)
    was_listed = is_listed(model)
    was_published_at = model.published_at
    if visibility is Visibility.PUBLIC:
        if model.completed_at is None:
            raise ModelNotCompleted()
        model.published_at = model.published_at or now
    else:
        model.published_at = None
    changed = model.published_at != was_published_at
    if model.visibility is not visibility:
        model.visibility, model.updated_at, changed = visibility, now, True
    if changed and task is not None:
        touch(task)
    await session.flush()
    return ModelChange(
        await _reload(repo, model_id), gallery_changed=was_listed != is_listed(model)
    )


@dataclass(frozen=True, slots=True)
class Deleted:
    model_id: str  # as stored: its files' folder is named after it
    was_listed: bool


async def delete(session: AsyncSession, *, model_id: str, user_id: str) -> Deleted:
    """Delete the model (its interactions and job cascade), saying whether it was listed.

    Locks the task first, as every writer of a task does, and bumps it: a client polling the
    task sees `model: null`. A model still in generation is refused: its task would wait for
    a job that no longer exists."""
    repo = ModelRepository(session)
    request, model = await _lock_owned(session, repo, model_id, user_id)
    if await repo.job_status(model_id) in ACTIVE_JOB_STATUSES:
        raise ModelStillGenerating()
    listed = is_listed(model)
    if not await repo.delete(model_id):
        raise ModelNotFound()
    if request is not None:
        touch(request)
    return Deleted(model.id, listed)


async def _lock_owned(
    session: AsyncSession, repo: ModelRepository, model_id: str, user_id: str
) -> tuple[GenerationRequest | None, Model]:
    """The owner's model and its task (None when it has none), the task's row lock first, then
    the model's. A stranger is refused before any lock is taken."""
    found = await repo.load(model_id)
    if found is None:
        raise ModelNotFound()
    if found.model.user_id != user_id:
        raise_for_stranger(found.model)
    task_id = found.model.request_id
    task = await lock_request(session, task_id) if task_id is not None else None
    model = await repo.lock(model_id)
    if model is None:
        raise ModelNotFound()
    return task, model


def raise_for_stranger(model: Model) -> NoReturn:
    """Another user's model: 403 when it is in the gallery (anyone knows it exists), but 404
    when it is private, the answer an unknown id gets (no oracle for private ids)."""
    if is_listed(model):
        raise NotModelOwner()
    raise ModelNotFound()


async def _reload(repo: ModelRepository, model_id: str) -> ModelRecord:
    record = await repo.load(model_id)
    if record is None:  # we hold its row lock: it cannot have gone
        raise ModelNotFound()
    return record
