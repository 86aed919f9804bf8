"""`/models/:id`: the owner renames, publishes or unpublishes, and deletes a model.

Another user's model is 403 `FORBIDDEN`; an unknown one 404. Making a model public before it is
completed is 409 `INVALID_STATE` (the old server said 400; the web app only shows the message).
"""

from __future__ import annotations

import functools

import structlog
from aiohttp import web

from lumi_api import jsend
from lumi_api.auth.current import require_user
from lumi_api.body import parse_body
from lumi_api.gallery.cache import gallery_cache
from lumi_api.keys import FILE_URLS, SESSIONMAKER, STORAGE
from lumi_api.models import service
from lumi_api.models.schemas import ModelOut, UpdateModelBody, VisibilityBody
from lumi_api.routing import add_route
from lumi_common.db.transactions import in_transaction
from lumi_common.ids import looks_like_id
from lumi_common.storage import model_prefix
from lumi_common.time import utcnow

DELETED = "模型已删除"

log = structlog.get_logger(__name__)


def setup(app: web.Application) -> None:
    add_route(app, "PATCH", "/models/{model_id}", update_model)
    add_route(app, "PATCH", "/models/{model_id}/visibility", set_visibility)
    add_route(app, "DELETE", "/models/{model_id}", delete_model)


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
    return await _answer(request, await in_transaction(request.app[SESSIONMAKER], rename))


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
    return await _answer(request, await in_transaction(request.app[SESSIONMAKER], change))


async def delete_model(request: web.Request) -> web.Response:
    """The row (interactions and job cascade), then its files under `models/<id>/`. The source
    image stays: it belongs to the task, which still shows it."""
    user = await require_user(request)
    model_id = model_id_of(request)
    remove = functools.partial(service.delete, model_id=model_id, user_id=user.id)
    was_listed = await in_transaction(request.app[SESSIONMAKER], remove)
    if was_listed:
        await gallery_cache(request.app).bump()
    try:
        removed = await request.app[STORAGE].delete_prefix(model_prefix(model_id))
    except OSError as exc:  # the row is gone; leftover files are only disk space
        log.warning("model.files.delete_failed", model_id=model_id, error=repr(exc))
        removed = 0
    log.info("model.deleted", model_id=model_id, files=removed)
    return jsend.success({"message": DELETED})


async def _answer(request: web.Request, change: service.ModelChange) -> web.Response:
    if change.gallery_changed:
        await gallery_cache(request.app).bump()
    return jsend.success(ModelOut.from_record(change.record, request.app[FILE_URLS]).to_json())


def model_id_of(request: web.Request) -> str:
    """The path's model id; one that cannot be an id is simply not found."""
    model_id = request.match_info["model_id"]
    if not looks_like_id(model_id):
        raise service.ModelNotFound()
    return model_id
