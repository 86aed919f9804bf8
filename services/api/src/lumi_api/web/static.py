"""`GET /static/{path}`: the files under `static/` of this package, and nothing else.

Only files of the listed types are served, and only from inside the folder (a path that
resolves outside it is a 404, as is a missing file). Browsers revalidate each load
(`no-cache` with the file's ETag and Last-Modified, so an unchanged file is a 304): a new
release is picked up at once, and a 2 MB three.js is not sent twice.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from lumi_api import texts
from lumi_common.errors import NotFound

STATIC_DIR = (Path(__file__).parent / "static").resolve()
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".md": "text/plain",
    "": "text/plain",  # LICENSE
}
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


class NoSuchFile(NotFound):
    default_message = texts.NO_SUCH_FILE


def static_path(relative: str) -> Path:
    """The file `relative` names inside the folder, or `NoSuchFile`."""
    path = (STATIC_DIR / relative).resolve()
    if not path.is_relative_to(STATIC_DIR) or path.suffix not in TYPES or not path.is_file():
        raise NoSuchFile()
    return path


async def static_file(request: web.Request) -> web.FileResponse:
    path = static_path(request.match_info["path"])
    content_type = TYPES[path.suffix]
    charset = "; charset=utf-8" if content_type.startswith("text/") else ""
    return web.FileResponse(path, headers={**HEADERS, "Content-Type": content_type + charset})
