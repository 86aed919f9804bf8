"""`/openapi.json`, `/openapi` (YAML: the web app's `/api-docs` page fetches it) and `/docs`,
the reference page, with its viewer (Swagger UI) shipped in this package: the page works
offline and loads nothing from another origin (see `viewer/README.md`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from typing import Any

import yaml
from aiohttp import web

from lumi_api import texts
from lumi_api.openapi.document import build_document
from lumi_api.routing import add_route, route_table
from lumi_common import jsonx
from lumi_common.errors import NotFound

TITLE = "Lumi API"
YAML = "application/yaml"
HTML = "text/html"
# a public description of a public API: any page may load it, and it changes with each release
HEADERS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"}
VIEWER_VERSION = "5.35.0"  # swagger-ui-dist, vendored in `viewer/`
# the only files `/docs/{asset}` serves, with their types; a page names them with ?v= so a new
# viewer version is fetched at once, and they may be cached long
VIEWER_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "docs.js": "text/javascript",
}
ASSET_HEADERS = {"Cache-Control": "public, max-age=86400"}
# relative URLs: the page is served under /api/docs and /api/v1/docs alike
DOCS_PAGE = f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Lumi API</title>
    <link rel="stylesheet" href="docs/swagger-ui.css?v={VIEWER_VERSION}">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/swagger-ui-bundle.js?v={VIEWER_VERSION}"></script>
    <script src="docs/docs.js?v={VIEWER_VERSION}"></script>
  </body>
</html>
"""


class ViewerAssetNotFound(NotFound):
    default_message = texts.NO_SUCH_VIEWER_FILE


class OpenApiCache:
    """Built on first use, when every route is registered; the routes never change after."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._json: bytes | None = None
        self._yaml: str | None = None

    def document(self) -> dict[str, Any]:
        return build_document(route_table(self._app).specs, title=TITLE, version=_version())

    def json(self) -> bytes:
        if self._json is None:
            self._json = jsonx.dumps(self.document())
        return self._json

    def yaml(self) -> str:
        if self._yaml is None:
            self._yaml = yaml.safe_dump(self.document(), sort_keys=False, allow_unicode=True)
        return self._yaml


OPENAPI = web.AppKey("openapi", OpenApiCache)


def setup(app: web.Application) -> None:
    app[OPENAPI] = OpenApiCache(app)
    add_route(
        app,
        "GET",
        "/openapi.json",
        openapi_json,
        summary="This document (OpenAPI 3.1, JSON)",
        auth="none",
        jsend=False,
        tag="docs",
    )
    add_route(
        app,
        "GET",
        "/openapi",
        openapi_yaml,
        summary="This document (OpenAPI 3.1, YAML)",
        auth="none",
        content_type=YAML,
        tag="docs",
    )
    add_route(
        app,
        "GET",
        "/docs",
        docs_page,
        summary="API reference page (works offline: its viewer ships with the API)",
        auth="none",
        content_type=HTML,
    )
    add_route(
        app,
        "GET",
        "/docs/{asset}",
        viewer_asset,
        summary="A file of the API reference page's viewer",
        auth="none",
        content_type="*/*",
        responses=(404,),
        tag="docs",
    )


async def openapi_json(request: web.Request) -> web.Response:
    body = request.app[OPENAPI].json()
    return web.Response(body=body, content_type="application/json", headers=HEADERS)


async def openapi_yaml(request: web.Request) -> web.Response:
    body = request.app[OPENAPI].yaml()
    return web.Response(text=body, content_type=YAML, headers=HEADERS)


async def docs_page(_: web.Request) -> web.Response:
    return web.Response(text=DOCS_PAGE, content_type=HTML)


async def viewer_asset(request: web.Request) -> web.Response:
    name = request.match_info["asset"]
    content_type = VIEWER_ASSETS.get(name)
    if content_type is None:
        raise ViewerAssetNotFound()
    body = files("lumi_api.openapi").joinpath("viewer", name).read_bytes()
    return web.Response(body=body, content_type=content_type, headers=ASSET_HEADERS)


def _version() -> str:
    try:
        return version("lumi-api")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0"
