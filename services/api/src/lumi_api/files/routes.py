"""`GET /files/<key>`: stored images and models, public and cacheable forever.

Keys never change content (a new result gets a new key), so a year of `immutable` caching is
safe; `Access-Control-Allow-Origin: *` lets the web app's three.js loaders fetch them cross-origin.
"""

from __future__ import annotations

from aiohttp import web

from lumi_api.files.mtl import absolute_textures
from lumi_api.files.urls import FILES_PATH
from lumi_api.keys import FILE_URLS, STORAGE
from lumi_api.routing import add_route
from lumi_common.errors import NotFound
from lumi_common.storage import content_type_for

FILE_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "Access-Control-Allow-Origin": "*",
}


class FileNotFound(NotFound):
    default_message = "File not found"


def setup(app: web.Application) -> None:
    # not under /api: these are the absolute URLs the task and model shapes carry; static
    # content meant for a CDN, so not rate-limited here
    add_route(
        app,
        "GET",
        FILES_PATH + "{key:.+}",
        serve_file,
        summary="A stored file (image, OBJ, MTL, texture, GLB), public and cacheable forever",
        auth="none",
        content_type="*/*",
        prefixed=False,
        rate_limited=False,
        tag="files",
    )


async def serve_file(request: web.Request) -> web.StreamResponse:
    key = request.match_info["key"]
    try:
        path = await request.app[STORAGE].open_path(key)
    except ValueError:  # a key that could escape the store (`..`, absolute, control characters)
        raise FileNotFound() from None
    if path is None:
        raise FileNotFound()
    headers = {**FILE_HEADERS, "Content-Type": content_type_for(key)}
    if key.endswith(".mtl"):
        text = (await request.app[STORAGE].get(key)).decode("utf-8", errors="replace")
        body = absolute_textures(text, key=key, url_for=request.app[FILE_URLS])
        return web.Response(body=body.encode(), headers=headers)
    return web.FileResponse(path, headers=headers)
