"""`/gallery/models`: published models, their detail, views, likes, favourites and downloads.

Reading routes take an optional token (a bad one is anonymous, never a 401: the web home page
would open its login modal). The list does not depend on the caller, so it never looks the
token up: a cached page is served without a single query.
"""

from __future__ import annotations

import functools

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from lumi_api import jsend, texts
from lumi_api.auth.current import optional_user, require_user
from lumi_api.body import parse_body, parse_query
from lumi_api.gallery import service
from lumi_api.gallery.cache import PageKey, gallery_cache, setup_cache
from lumi_api.gallery.repository import GalleryRepository
from lumi_api.gallery.schemas import (
    BatchInteractionsBody,
    BatchInteractionsOut,
    GalleryItemOut,
    GalleryPageOut,
    GalleryQuery,
    InteractionBody,
    InteractionsOut,
    InteractionStateOut,
    ToggleOut,
)
from lumi_api.gallery.views import view_counter
from lumi_api.keys import FILE_URLS, SESSIONMAKER
from lumi_api.models.repository import ModelRepository, is_listed
from lumi_api.models.routes import model_id_of
from lumi_api.models.schemas import ModelOut
from lumi_api.models.service import ModelNotFound
from lumi_api.routing import add_route
from lumi_api.schemas import MessageOut
from lumi_common import jsonx
from lumi_common.db.transactions import in_transaction
from lumi_common.ids import canonical_id
from lumi_common.states import InteractionType
from lumi_common.time import utcnow

MODEL = "/gallery/models/{model_id}"

log = structlog.get_logger(__name__)


def setup(app: web.Application) -> None:
    setup_cache(app)
    route = functools.partial(add_route, app, tag="gallery")
    route(
        "GET",
        "/gallery/models",
        list_models,
        summary="Published models (`sortBy` from web, `sort` from mobile; cached pages)",
        auth="optional",
        query=GalleryQuery,
        response=GalleryPageOut,
    )
    route(
        "POST",
        "/gallery/models/batch-interactions",
        batch_interactions,
        summary="The caller's likes and favourites of up to 100 models",
        auth="optional",
        body=BatchInteractionsBody,
        response=BatchInteractionsOut,
    )
    route(
        "GET",
        MODEL,
        get_model,
        summary="A published model (a view is counted), or the caller's own unpublished one",
        auth="optional",
        response=ModelOut,
    )
    route(
        "GET",
        MODEL + "/interactions",
        get_interactions,
        summary="Whether the caller likes and favours a model (404 when they may not see it)",
        auth="optional",
        response=InteractionsOut,
    )
    route(
        "POST",
        MODEL + "/interactions",
        toggle_interaction,
        summary="Like or favourite a model, or undo it (a toggle)",
        auth="required",
        body=InteractionBody,
        response=ToggleOut,
    )
    route(
        "POST",
        MODEL + "/download",
        record_download,
        summary="Count a download (then fetch `modelUrl`)",
        auth="required",
        response=MessageOut,
    )


async def list_models(request: web.Request) -> web.Response:
    query = parse_query(request, GalleryQuery)
    key = PageKey(sort=query.order, limit=query.limit, offset=query.offset)
    cache = gallery_cache(request.app)
    lookup = await cache.lookup(key)
    if lookup.data is not None:
        return jsend.success_json(lookup.data)
    urls = request.app[FILE_URLS]
    async with request.app[SESSIONMAKER]() as session:
        repo = GalleryRepository(session)
        models = await repo.page(query.order, limit=query.limit, offset=query.offset)
        names = await repo.display_names(model.user_id for model in models)
        total = await repo.total()
    items = [
        GalleryItemOut.build(model, owner_name=names.get(model.user_id, ""), urls=urls)
        for model in models
    ]
    page = GalleryPageOut(items=items, total=total, has_more=query.offset + len(items) < total)
    data = jsonx.dumps(page.to_json())
    await cache.store(lookup, key, data)
    return jsend.success_json(data)


async def get_model(request: web.Request) -> web.Response:
    """A published model for anyone (and a view counted); an unpublished one for its owner
    only (404 to everyone else, as if it did not exist)."""
    model_id = model_id_of(request)
    async with request.app[SESSIONMAKER]() as session:
        record = await ModelRepository(session).load(model_id)
    if record is None:
        raise ModelNotFound()
    user = await optional_user(request)
    viewer = None if user is None else user.id
    out = ModelOut.from_record(record, request.app[FILE_URLS]).seen_by(viewer)
    if is_listed(record.model):
        pending = await _count_view(request, model_id)
        out = out.model_copy(update={"view_count": out.view_count + pending})
    elif viewer != record.model.user_id:
        raise ModelNotFound()
    return jsend.success(out.to_json())


async def _count_view(request: web.Request, model_id: str) -> int:
    try:
        return await view_counter(request.app).record(model_id)
    except RedisError as exc:  # a lost view is better than a failed page
        log.warning("gallery.views.record_failed", model_id=model_id, error=repr(exc))
        return 0


async def get_interactions(request: web.Request) -> web.Response:
    """Like the detail, 404 for a model the caller may not see (a private one of another)."""
    model_id = model_id_of(request)
    user = await optional_user(request)
    async with request.app[SESSIONMAKER]() as session:
        kinds = await GalleryRepository(session).states(model_id, None if user is None else user.id)
    if kinds is None:
        raise ModelNotFound()
    return jsend.success(InteractionsOut.build(kinds if user is not None else None).to_json())


async def toggle_interaction(request: web.Request) -> web.Response:
    user = await require_user(request)
    model_id = model_id_of(request)
    body = await parse_body(request, InteractionBody)
    toggle = functools.partial(
        service.toggle, model_id=model_id, user_id=user.id, kind=body.type, now=utcnow()
    )
    result = await in_transaction(request.app[SESSIONMAKER], toggle)
    if result.listed:
        await gallery_cache(request.app).bump()
    out = ToggleOut(
        is_interacted=result.is_interacted,
        type=result.kind,
        like_count=result.like_count,
        favorite_count=result.favorite_count,
    )
    return jsend.success(out.to_json())


async def batch_interactions(request: web.Request) -> web.Response:
    """Every requested id gets an answer under the spelling it was sent in (the app looks it up
    so); ids that cannot be models are simply not liked."""
    body = await parse_body(request, BatchInteractionsBody)
    user = await optional_user(request)
    if user is None:
        return jsend.success(
            BatchInteractionsOut(is_authenticated=False, interactions={}).to_json()
        )
    sent = {model_id: canonical_id(model_id) for model_id in body.ids}
    async with request.app[SESSIONMAKER]() as session:
        found = await GalleryRepository(session).interactions_of(
            user.id, list({canonical for canonical in sent.values() if canonical is not None})
        )
    kinds: dict[str, set[InteractionType]] = {}
    for model_id, kind in found:
        kinds.setdefault(model_id, set()).add(kind)
    states = {}
    for model_id, canonical in sent.items():
        held = kinds.get(canonical, set()) if canonical is not None else set()
        states[model_id] = InteractionStateOut(
            is_liked=InteractionType.LIKE in held, is_favorited=InteractionType.FAVORITE in held
        )
    out = BatchInteractionsOut(is_authenticated=True, interactions=states)
    return jsend.success(out.to_json())


async def record_download(request: web.Request) -> web.Response:
    user = await require_user(request)
    model_id = model_id_of(request)
    async with request.app[SESSIONMAKER].begin() as session:
        counted = await GalleryRepository(session).count_download(
            model_id=model_id, user_id=user.id
        )
    if not counted:
        raise ModelNotFound()
    return jsend.success(MessageOut(message=texts.DOWNLOADED.render()).to_json())
