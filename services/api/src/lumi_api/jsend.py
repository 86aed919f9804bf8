"""JSend responses. Every 2xx carries a JSON body: the web client calls `response.json()`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from lumi_common import jsonx

JSON = "application/json"


def success(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return _json({"status": "success", "data": data}, status, headers)


def success_json(data: bytes, *, status: int = 200) -> web.Response:
    """A success whose `data` is already JSON (a cached page): sent as it is."""
    body = b'{"status":"success","data":' + data + b"}"
    return web.Response(body=body, status=status, content_type=JSON, charset="utf-8")


def fail(
    message: str, *, code: str, status: int = 400, details: Mapping[str, Any] | None = None
) -> web.Response:
    data: dict[str, Any] = {"message": message, "code": code}
    if details:
        data["details"] = dict(details)
    return _json({"status": "fail", "data": data}, status, None)


def error(
    message: str, *, code: str, status: int = 500, data: Mapping[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"status": "error", "message": message, "code": code}
    if data is not None:
        body["data"] = dict(data)
    return _json(body, status, None)


def _json(body: Any, status: int, headers: Mapping[str, str] | None) -> web.Response:
    return web.Response(
        body=jsonx.dumps(body), status=status, content_type=JSON, charset="utf-8", headers=headers
    )
