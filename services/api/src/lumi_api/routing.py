"""Every route is served under `/api/v1` (canonical) and `/api` (what the existing apps call)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

PREFIXES = ("/api/v1", "/api")


def add_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    for prefix in PREFIXES:
        app.router.add_route(method, f"{prefix}{path}", handler)
