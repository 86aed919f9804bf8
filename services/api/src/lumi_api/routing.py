"""The route registry: every route is registered once, with what it is, and served under
`/api/v1` (canonical) and `/api` (what the existing apps call).

What a route declares here is used three times: the route guard enforces its `auth` and the
shape of its ids before the handler runs; the OpenAPI document is generated from it; and tests
walk it to check every route (a 2xx always carries JSON, no input gives a 5xx).

    add_route(app, "GET", "/tasks/{task_id}", get_task, summary="Read a task",
              auth="required", response=TaskOut, responses=(409,))

Every route says who may call it (`auth`: "none", "optional" — a bad token is anonymous, never
a 401 — "required", or "admin": signed in (401) as an administrator (403)) and what it answers
(`response`, a pydantic model the handler builds its `data` with; None means `data: null`),
so the document cannot drift from the behaviour.

Path parameters named `id` or ending in `_id` are our ULIDs: any other value is a 404 before
the handler runs. Name a parameter that is not one of our ids otherwise (`{key}`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import AbstractRoute
from pydantic import BaseModel

PREFIXES = ("/api/v1", "/api")
JSON = "application/json"

Auth = Literal["none", "optional", "required", "admin"]
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    path: str  # as registered, without the prefix, aiohttp style: `/tasks/{task_id}`
    handler: Handler
    summary: str
    auth: Auth
    body: type[BaseModel] | None  # the JSON request body
    query: type[BaseModel] | None  # the query string
    response: type[BaseModel] | None  # the `data` of the JSend success; None: `null`
    status: int  # the success status
    # statuses beyond those the declaration implies (400 for a body or query, 401 for required
    # auth, 404 for path ids, 413 for a body, 429 and 500 everywhere): 304, 409, 501, 503…
    responses: tuple[int, ...]
    tag: str
    content_type: str  # of a success: JSON unless a route serves a document or a file
    jsend: bool  # whether a success is a JSend envelope (every JSON route but the OpenAPI one)
    prefixed: bool  # False: served at `path` itself (the public files), not under the prefixes
    rate_limited: bool

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.path)

    @property
    def id_params(self) -> list[str]:
        return [name for name in self.params if is_id_param(name)]

    @property
    def openapi_path(self) -> str:
        """`/files/{key:.+}` → `/files/{key}`: the regex is aiohttp's business."""
        return _PARAM.sub(r"{\1}", self.path)


def is_id_param(name: str) -> bool:
    return name == "id" or name.endswith("_id")


class RouteTable:
    """The specs in registration order, and the aiohttp routes that serve each one."""

    def __init__(self) -> None:
        self.specs: list[RouteSpec] = []
        self._by_route: dict[AbstractRoute, RouteSpec] = {}

    def register(self, spec: RouteSpec, routes: list[AbstractRoute]) -> None:
        self.specs.append(spec)
        self._by_route.update(dict.fromkeys(routes, spec))

    def spec_for(self, request: web.Request) -> RouteSpec | None:
        return self._by_route.get(request.match_info.route)

    def covers(self, route: AbstractRoute) -> bool:
        return route in self._by_route


ROUTES = web.AppKey("routes", RouteTable)


def route_table(app: web.Application) -> RouteTable:
    if ROUTES not in app:
        app[ROUTES] = RouteTable()
    return app[ROUTES]


def add_route(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    *,
    summary: str,
    auth: Auth,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    responses: tuple[int, ...] = (),
    tag: str | None = None,
    content_type: str = JSON,
    jsend: bool | None = None,
    prefixed: bool = True,
    rate_limited: bool = True,
) -> None:
    spec = RouteSpec(
        method=method.upper(),
        path=path,
        handler=handler,
        summary=summary,
        auth=auth,
        body=body,
        query=query,
        response=response,
        status=status,
        responses=responses,
        tag=tag or _first_segment(path),
        content_type=content_type,
        jsend=content_type == JSON if jsend is None else jsend,
        prefixed=prefixed,
        rate_limited=rate_limited,
    )
    routes = []
    for prefix in PREFIXES if prefixed else ("",):
        routes.append(app.router.add_route(spec.method, f"{prefix}{path}", handler))
        if spec.method == "GET":  # as aiohttp's add_get does: HEAD is GET without the body
            routes.append(app.router.add_route("HEAD", f"{prefix}{path}", handler))
    route_table(app).register(spec, routes)


def _first_segment(path: str) -> str:
    return path.strip("/").split("/", 1)[0] or "root"
