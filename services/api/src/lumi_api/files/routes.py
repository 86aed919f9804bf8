"""`GET /files/<key>` and `GET /api/proxy/files/<key>`: stored files, by the rules of
`files.access` — a listed model's files for anyone, everything else only with a valid signature.

Served from a local folder directly; from S3 as a redirect to a presigned GET, so the bytes go
from the bucket to the client (the MTL excepted: it is rewritten on the way, see `files.mtl`).
`Access-Control-Allow-Origin: *` lets the web app's three.js loaders fetch them cross-origin.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from lumi_api import texts
from lumi_api.files.access import resolve
from lumi_api.files.mtl import absolute_textures
from lumi_api.files.urls import FILES_PATH, PROXY_FILES_PATH
from lumi_api.keys import FILE_URLS, SESSIONMAKER, STORAGE
from lumi_api.routing import add_route
from lumi_common.errors import AppError, Forbidden, NotFound
from lumi_common.storage import StorageError, check_key, content_type_for
from lumi_common.storage.signing import Signature

log = structlog.get_logger(__name__)

CORS = {"Access-Control-Allow-Origin": "*"}
# public files: a CDN or browser may keep them this long after their model turns private
# (the API itself refuses them at once); keys never change content
PUBLIC_CACHE = "public, max-age=300"
# signed files: only the owner's browser keeps them, never a shared cache
SIGNED_CACHE = "private, max-age=300"
# an S3 redirect's presigned URL outlives the redirect's own caching
REDIRECT_SECONDS = 600
REDIRECT_CACHE = "private, max-age=60"


class FileStorageUnavailable(AppError):
    status, code = 503, "STORAGE_UNAVAILABLE"
    default_message = texts.FILES_UNAVAILABLE


class FileNotFound(NotFound):
    default_message = texts.FILE_NOT_FOUND


class FileLinkExpired(Forbidden):
    code, default_message = "LINK_EXPIRED", texts.LINK_EXPIRED


class FileLinkInvalid(Forbidden):
    code, default_message = "LINK_INVALID", texts.LINK_INVALID


def setup(app: web.Application) -> None:
    # not under /api/v1: these are the absolute URLs the task and model shapes carry; static
    # content meant for a CDN, so not rate-limited here
    for path in (FILES_PATH, PROXY_FILES_PATH):
        add_route(
            app,
            "GET",
            path + "{key:.+}",
            serve_file,
            summary="A stored file (image, OBJ, MTL, texture, GLB, STL, G-code): public for a "
            "listed model, else with the signature (`exp`, `sig`) of a URL the API returned",
            auth="none",
            content_type="*/*",
            prefixed=False,
            rate_limited=False,
            responses=(403,),
            tag="files",
        )


async def serve_file(request: web.Request) -> web.StreamResponse:
    try:
        return await _serve(request, request.match_info["key"])
    except StorageError as error:  # the bucket unreachable after its retries: no 500
        log.warning("files.storage_failed", error=str(error))
        raise FileStorageUnavailable(headers={"Retry-After": "5"}) from None


async def _serve(request: web.Request, key: str) -> web.StreamResponse:
    try:
        check_key(key)
    except ValueError:  # a key that could escape the store (`..`, absolute, control characters)
        raise FileNotFound() from None
    urls = request.app[FILE_URLS]
    signature = urls.check(key, request.query.get("exp"), request.query.get("sig"))
    if signature is Signature.EXPIRED:
        raise FileLinkExpired()
    if signature is Signature.INVALID:
        raise FileLinkInvalid()
    async with request.app[SESSIONMAKER]() as session:
        target = await resolve(session, key)
    signed = signature is Signature.VALID
    stored = target.stored_key
    if stored is None or not (signed or target.public):
        raise FileNotFound()  # a private file is as unknown as a missing one
    storage = request.app[STORAGE]
    if not await storage.exists(stored):
        raise FileNotFound()
    headers = {
        **CORS,
        "Content-Type": content_type_for(stored),
        "Cache-Control": SIGNED_CACHE if signed else PUBLIC_CACHE,
    }
    if stored.endswith(".mtl"):
        text = (await storage.get(stored)).decode("utf-8", errors="replace")
        url_for = urls.signed if signed else urls.public
        body = absolute_textures(text, key=stored, url_for=url_for)
        return web.Response(body=body.encode(), headers=headers)
    path = await storage.open_path(stored)
    if path is not None:
        return web.FileResponse(path, headers=headers)
    location = await storage.signed_url(stored, expires_in=REDIRECT_SECONDS)
    raise web.HTTPFound(location, headers={**CORS, "Cache-Control": REDIRECT_CACHE})
