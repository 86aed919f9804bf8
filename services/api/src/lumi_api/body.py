"""Request bodies and query strings, validated by a pydantic model, every failure a 400 `fail`."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from lumi_common import jsonx
from lumi_common.errors import BadRequest, ValidationFailed

M = TypeVar("M", bound=BaseModel)


class InvalidJson(BadRequest):
    code, default_message = "INVALID_JSON", "The request body must be a JSON object"


async def parse_body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    try:
        data = jsonx.loads(raw)
    except ValueError:  # orjson's decode error, and undecodable UTF-8
        raise InvalidJson() from None
    if not isinstance(data, dict):
        raise InvalidJson()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    """The query string: the first value of a repeated name; an empty value (`?sort=`) counts
    as absent; unknown names are ignored."""
    values = {name: request.query.getone(name) for name in request.query}
    try:
        return model.model_validate({name: v for name, v in values.items() if v != ""})
    except ValidationError as exc:
        raise validation_failed(exc, whole="query") from None


def validation_failed(exc: ValidationError, *, whole: str = "body") -> ValidationFailed:
    """`prompt: String should have at most 500 characters` — one clause per invalid field."""
    problems = [
        {"field": ".".join(str(part) for part in item["loc"]) or whole, "reason": item["msg"]}
        for item in exc.errors(include_url=False, include_input=False)
    ]
    message = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
    return ValidationFailed(message, details={"errors": problems})
