"""Request bodies and query strings, validated by a pydantic model, every failure a 400 `fail`."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from lumi_api import texts
from lumi_common import jsonx
from lumi_common.errors import BadRequest, ValidationFailed
from lumi_common.i18n import InvalidValue, Joined, Message, Text, Value

M = TypeVar("M", bound=BaseModel)


class InvalidJson(BadRequest):
    code, default_message = "INVALID_JSON", texts.INVALID_JSON


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
    """`prompt: 最多 500 个字符` — one clause per invalid field, in the reader's language
    (`details.errors[].reason` too); the field names are the API's own."""
    problems = [
        (".".join(str(part) for part in item["loc"]), _reason(item))
        for item in exc.errors(include_url=False, include_input=False)
    ]
    # a rule about the whole body or query says only its reason (not an English "body: ")
    message = Joined(
        [texts.FIELD_PROBLEM(field=f, reason=r) if f else r for f, r in problems],
        texts.FIELD_PROBLEMS_JOIN,
    )
    problems = [(f or whole, r) for f, r in problems]
    return ValidationFailed(
        message, details={"errors": [{"field": f, "reason": r} for f, r in problems]}
    )


def _reason(error: ErrorDetails) -> Text:
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, InvalidValue):
        return cause.text
    kind = error["type"]
    if kind == "value_error" and "email" in error["msg"]:
        return texts.NOT_AN_EMAIL()
    if kind in _EMPTY and ctx.get("min_length") == 1:
        return _EMPTY[kind]()
    found = _REASONS.get(kind)
    if found is None:
        return texts.VALUE_INVALID()
    message, fields = found
    return message(**{name: _shown(ctx.get(name, "")) for name in fields})


def _shown(value: object) -> Value:
    if isinstance(value, str) and " or " in value:
        # pydantic's choices (`'a', 'b' or 'c'`): the last "or" in the reader's language
        head, _, last = value.rpartition(" or ")
        return texts.CHOICES(choices=head, last=last)
    return value if isinstance(value, str | int | float) else str(value)


# "at least 1": said as "must not be empty" (and no "1 characters")
_EMPTY = {"string_too_short": texts.TEXT_EMPTY, "too_short": texts.LIST_EMPTY}

# pydantic's error types, by the sentence each gets and the context values that sentence names
_REASONS: dict[str, tuple[Message, tuple[str, ...]]] = {
    "missing": (texts.FIELD_REQUIRED, ()),
    "extra_forbidden": (texts.FIELD_UNKNOWN, ()),
    "string_type": (texts.NOT_A_STRING, ()),
    "string_too_short": (texts.TEXT_TOO_SHORT, ("min_length",)),
    "string_too_long": (texts.TEXT_TOO_LONG, ("max_length",)),
    "string_pattern_mismatch": (texts.TEXT_PATTERN, ()),
    "string_unicode": (texts.NOT_A_STRING, ()),
    "int_type": (texts.NOT_AN_INTEGER, ()),
    "int_parsing": (texts.NOT_AN_INTEGER, ()),
    "int_from_float": (texts.NOT_AN_INTEGER, ()),
    "float_type": (texts.NOT_A_NUMBER, ()),
    "float_parsing": (texts.NOT_A_NUMBER, ()),
    "bool_type": (texts.NOT_A_BOOLEAN, ()),
    "bool_parsing": (texts.NOT_A_BOOLEAN, ()),
    "list_type": (texts.NOT_A_LIST, ()),
    "dict_type": (texts.NOT_AN_OBJECT, ()),
    "model_type": (texts.NOT_AN_OBJECT, ()),
    "model_attributes_type": (texts.NOT_AN_OBJECT, ()),
    "too_short": (texts.LIST_TOO_SHORT, ("min_length",)),
    "too_long": (texts.LIST_TOO_LONG, ("max_length",)),
    "greater_than": (texts.GREATER_THAN, ("gt",)),
    "greater_than_equal": (texts.AT_LEAST, ("ge",)),
    "less_than": (texts.LESS_THAN, ("lt",)),
    "less_than_equal": (texts.AT_MOST, ("le",)),
    "literal_error": (texts.ONE_OF, ("expected",)),
    "enum": (texts.ONE_OF, ("expected",)),
    "datetime_type": (texts.NOT_A_DATETIME, ()),
    "datetime_parsing": (texts.NOT_A_DATETIME, ()),
    "datetime_from_date_parsing": (texts.NOT_A_DATETIME, ()),
    "url_type": (texts.NOT_A_URL, ()),
    "url_parsing": (texts.NOT_A_URL, ()),
    "url_scheme": (texts.NOT_A_URL, ()),
    "url_syntax_violation": (texts.NOT_A_URL, ()),
    "url_too_long": (texts.NOT_A_URL, ()),
}
