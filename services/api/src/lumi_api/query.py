"""Query strings validated by a pydantic model, every failure a 400 `fail` like a bad body."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from lumi_api.body import validation_failed

M = TypeVar("M", bound=BaseModel)


def parse_query(request: web.Request, model: type[M]) -> M:
    """The first value of each parameter; an empty one (`?sort=`) counts as absent."""
    values = {key: request.query.getone(key) for key in request.query}
    try:
        return model.model_validate({key: value for key, value in values.items() if value != ""})
    except ValidationError as exc:
        raise validation_failed(exc) from None
