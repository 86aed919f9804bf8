"""`/models/:id`: the owner renames, publishes or unpublishes, and deletes a model.

Another user's model is 403 `FORBIDDEN`; an unknown one 404. Making a model public before it is
completed is 409 `INVALID_STATE` (the old server said 400; the web app only shows the message).
"""

from __future__ import annotations

import functools

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api import jsend, texts
from lumi_api.auth.current import require_user
from lumi_api.body import parse_body
from lumi_api.gallery.cache import gallery_cache
from lumi_api.keys import FILE_URLS, SESSIONMAKER, STORAGE
from lumi_api.models import service
from lumi_api.models.schemas import ModelOut, UpdateModelBody, VisibilityBody
from lumi_api.routing import add_route
from lumi_api.schemas import MessageOut
from lumi_common.db.transactions import in_transaction
from lumi_common.storage import deletions, model_prefix
from lumi_common.time import utcnow

MODEL = "/models/{model_id}"

log = structlog.get_logger(__name__)


def setup(app: web.Application) -> None:
    route = functools.partial(add_route, app, auth="required", tag="models")
    route(
        "PATCH",
        MODEL,
        update_model,
        summary="Rename a model or change its description (the owner only: 403 otherwise)",
        body=UpdateModelBody,
        response=ModelOut,
        responses=(403,),
    )
    route(
        "PATCH",
        MODEL + "/visibility",
        set_visibility,
        summary="Publish or unpublish a model (409 when publishing one not completed)",
        body=VisibilityBody,
        response=ModelOut,
        responses=(403, 409),
    )
    route(
        "DELETE",
        MODEL,
        delete_model,
        summary="Delete a model and its files (409 while it is being generated)",
        response=MessageOut,
        responses=(403, 409),
    )


async def update_model(request: web.Request) -> web.Response:
    user = await require_user(request)
    model_id = model_id_of(request)
    body = await parse_body(request, UpdateModelBody)
    rename = functools.partial(
        service.rename,
        model_id=model_id,
        user_id=user.id,
        name=body.name,
        description=body.description,
        set_description="description" in body.model_fields_set,
        now=utcnow(),
    )
    # setting values: running it again after it committed answers the same
    renamed = await in_transaction(request.app[SESSIONMAKER], rename, idempotent=True)
    return await _answer(request, renamed)


async def set_visibility(request: web.Request) -> web.Response:
    user = await require_user(request)
    model_id = model_id_of(request)
    body = await parse_body(request, VisibilityBody)
    change = functools.partial(
        service.set_visibility,
        model_id=model_id,
        user_id=user.id,
        visibility=body.visibility,
        now=utcnow(),
    )
    changed = await in_transaction(request.app[SESSIONMAKER], change, idempotent=True)
    return await _answer(request, changed)


async def delete_model(request: web.Request) -> web.Response:
    """The row (interactions and job cascade), then its files under `models/<id>/`. The source
    image stays: it belongs to the task, which still shows it."""
    user = await require_user(request)
    model_id = model_id_of(request)

    async def remove(session: AsyncSession) -> tuple[list[str], bool]:
        deleted = await service.delete(session, model_id=model_id, user_id=user.id)
        folders = [model_prefix(deleted.model_id)]  # the stored id names the folder
        # recorded with the deletion: if removing the files fails now, the sweep retries it
        deletions.schedule(session, folders, now=utcnow())
        return folders, deleted.was_listed

    folders, was_listed = await in_transaction(request.app[SESSIONMAKER], remove)
    if was_listed:
        await gallery_cache(request.app).bump()
    files_gone = await deletions.delete_now(request.app[STORAGE], folders)
    log.info("model.deleted", model_id=model_id, files_deleted=files_gone)
    return jsend.success(MessageOut(message=texts.MODEL_DELETED.render()).to_json())


async def _answer(request: web.Request, change: service.ModelChange) -> web.Response:
    if change.gallery_changed:
        await gallery_cache(request.app).bump()
    return jsend.success(ModelOut.from_record(change.record, request.app[FILE_URLS]).to_json())


def model_id_of(request: web.Request) -> str:
    """A ULID: the route guard answered 404 for anything else."""
    return request.match_info["model_id"]
