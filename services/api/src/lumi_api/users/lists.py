"""A user's lists of models: favourites, likes, and their own models.

`/users/favorites`, `/users/likes` and `/users/my-models` answer a plain array (what both apps
read); `/users/models` answers `{items, total, publicCount, hasMore}` for the web's my-models
page, where `total` counts what the visibility filter matches (the old server ignored it).
Each list is one query for its models, owners and jobs; `/users/models` adds one for its counts.
"""

from __future__ import annotations

import functools

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from lumi_api import jsend
from lumi_api.auth.current import require_user
from lumi_api.body import parse_query
from lumi_api.keys import FILE_URLS, SESSIONMAKER
from lumi_api.models.repository import ModelRecord, ModelRepository, OwnSort
from lumi_api.models.schemas import ModelListOut, ModelOut
from lumi_api.routing import add_route
from lumi_api.schemas import ApiModel
from lumi_common.states import InteractionType, Visibility

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 100_000


class PageQuery(BaseModel):
    """`limit` and `offset`; the `sort` mobile sends to favourites and likes means nothing."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class OwnModelsQuery(PageQuery):
    """Web sends `sortBy`, mobile `sort`; `sortBy` wins when both are given."""

    visibility: Visibility | None = None
    sort: OwnSort | None = None
    sort_by: OwnSort | None = Field(default=None, alias="sortBy")

    @property
    def order(self) -> OwnSort:
        return self.sort_by or self.sort or OwnSort.LATEST


class UserModelsPageOut(ApiModel):
    """The web's my-models page: `total` counts what the visibility filter matches."""

    items: list[ModelOut]
    total: int
    public_count: int
    has_more: bool


def setup(app: web.Application) -> None:
    route = functools.partial(add_route, app, auth="required", tag="users", response=ModelListOut)
    route(
        "GET",
        "/users/favorites",
        favorites,
        summary="The models the caller favours, newest favourite first (a plain array)",
        query=PageQuery,
    )
    route(
        "GET",
        "/users/likes",
        likes,
        summary="The models the caller likes, newest like first (a plain array)",
        query=PageQuery,
    )
    route(
        "GET",
        "/users/my-models",
        my_models,
        summary="The caller's own models (a plain array)",
        query=OwnModelsQuery,
    )
    route(
        "GET",
        "/users/models",
        models_page,
        summary="The caller's own models with counts (`{items, total, publicCount, hasMore}`)",
        query=OwnModelsQuery,
        response=UserModelsPageOut,
    )


async def favorites(request: web.Request) -> web.Response:
    return await _interacted(request, InteractionType.FAVORITE)


async def likes(request: web.Request) -> web.Response:
    return await _interacted(request, InteractionType.LIKE)


async def _interacted(request: web.Request, kind: InteractionType) -> web.Response:
    user = await require_user(request)
    query = parse_query(request, PageQuery)
    async with request.app[SESSIONMAKER]() as session:
        records = await ModelRepository(session).interacted(
            user.id, kind, limit=query.limit, offset=query.offset
        )
    return jsend.success(_models(request, records, user.id).to_json())


async def my_models(request: web.Request) -> web.Response:
    user = await require_user(request)
    query = parse_query(request, OwnModelsQuery)
    async with request.app[SESSIONMAKER]() as session:
        records = await _owned(ModelRepository(session), user.id, query)
    return jsend.success(_models(request, records, user.id).to_json())


async def models_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    query = parse_query(request, OwnModelsQuery)
    async with request.app[SESSIONMAKER]() as session:
        repo = ModelRepository(session)
        records = await _owned(repo, user.id, query)
        total, public = await repo.owned_counts(user.id, visibility=query.visibility)
    out = UserModelsPageOut(
        items=_models(request, records, user.id).root,
        total=total,
        public_count=public,
        has_more=query.offset + len(records) < total,
    )
    return jsend.success(out.to_json())


async def _owned(repo: ModelRepository, user_id: str, query: OwnModelsQuery) -> list[ModelRecord]:
    return await repo.owned(
        user_id,
        visibility=query.visibility,
        sort=query.order,
        limit=query.limit,
        offset=query.offset,
    )


def _models(request: web.Request, records: list[ModelRecord], viewer: str) -> ModelListOut:
    return ModelListOut.from_records(records, request.app[FILE_URLS], viewer=viewer)
