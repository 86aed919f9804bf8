"""OpenAPI 3.1 from the route registry: paths from the specs, schemas from the pydantic models.

Nothing here is written by hand per route: a route that declares its body, query and response
models is documented, and OpenAPI 3.1 schemas are JSON Schema, which pydantic emits. The
document is self-contained (every `$ref` points inside it). Servers are relative (`/api/v1`,
`/api`), so it stays right behind any proxy; the public files live at the root.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from lumi_api.routing import JSON, RouteSpec, is_id_param
from lumi_common.i18n import LOCALES

OPENAPI_VERSION = "3.1.0"
REF_PREFIX = "#/components/schemas/"
SECURITY_SCHEME = "bearer"
# a ULID as `lumi_common.ids` makes them: 26 Crockford base-32 characters, at most 7ZZ…
ULID_SCHEMA = {"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Z]{25}$"}

JSEND_FAIL = {
    "type": "object",
    "description": (
        "A client error: `data.message` says what is wrong, in the reader's language"
        " (`Accept-Language`), `data.code` is stable."
    ),
    "required": ["status", "data"],
    "properties": {
        "status": {"const": "fail"},
        "data": {
            "type": "object",
            "required": ["message", "code"],
            "properties": {
                "message": {"type": "string"},
                "code": {"type": "string"},
                "details": {"type": "object"},
            },
        },
    },
}
JSEND_ERROR = {
    "type": "object",
    "description": "A server error: `message` (in the reader's language) and a stable `code`.",
    "required": ["status", "message", "code"],
    "properties": {
        "status": {"const": "error"},
        "message": {"type": "string"},
        "code": {"type": "string"},
        "data": {"type": "object"},
    },
}
# status → (component name, description); 4xx are JSend `fail`, 5xx JSend `error`
STANDARD_RESPONSES = {
    400: ("BadRequest", "Invalid input: `VALIDATION_ERROR` (with the field), `INVALID_JSON`"),
    401: ("Unauthorized", "A bearer token is required: `UNAUTHORIZED` (message `请先登录`)"),
    403: (
        "Forbidden",
        "The resource belongs to another user: `FORBIDDEN`; an administrators' route called by"
        " someone else: `ADMIN_REQUIRED`",
    ),
    404: ("NotFound", "No such resource for this caller, or a malformed id: `NOT_FOUND`"),
    409: ("Conflict", "The resource is not in a state that allows this: `INVALID_STATE`, …"),
    413: ("PayloadTooLarge", "The body is larger than `MAX_BODY_BYTES`: `PAYLOAD_TOO_LARGE`"),
    429: ("RateLimited", "Too many requests from this caller: `RATE_LIMITED`; see `Retry-After`"),
    500: ("InternalError", "An unexpected error: `INTERNAL_ERROR`"),
    501: ("NotImplemented", "Not available in this version yet: `NOT_IMPLEMENTED`"),
    502: ("BadGateway", "A service we depend on refused or failed: `EMAIL_UNAVAILABLE`, …"),
    503: ("ServiceUnavailable", "A dependency is down: `SERVICE_UNAVAILABLE`"),
}
# successes that are not JSend: this document itself (JSON or YAML), a page, a stored file
DOCUMENT_SCHEMAS: dict[str, dict[str, Any]] = {
    JSON: {"type": "object"},
    "application/yaml": {"type": "object"},
    "*/*": {"type": "string", "format": "binary"},
}
EVENT_STREAM = "text/event-stream"
# the named events that end a task's event stream
STREAM_ENDINGS = ("end", "deleted")
NOT_MODIFIED = {"description": "Nothing changed since `since`: an empty body"}
# the languages of the sentences (`lumi_common.i18n.LOCALES`): the request header that chooses
# one, and the response headers of an answer that holds one
ACCEPT_LANGUAGE = "AcceptLanguage"
ACCEPT_LANGUAGE_PARAMETER = {
    "name": "Accept-Language",
    "in": "header",
    "required": False,
    "description": (
        "The language of the sentences in the answer (`message`, `details.errors[].reason`,"
        " `errorMessage`): any `zh` is `zh-CN`, any `en` is `en`, by quality then order"
        " (RFC 9110). Absent, `*` or none of these: the server's `DEFAULT_LOCALE` (`zh-CN`"
        " unless configured). Codes, statuses and field names never depend on it."
    ),
    "schema": {"type": "string", "maxLength": 1000},
    "examples": {
        "chinese": {"value": "zh-CN"},
        "english": {"value": "en"},
        "browser": {"value": "en-US,en;q=0.9,zh-CN;q=0.8"},
    },
}
LANGUAGE_HEADERS = {
    "Content-Language": {
        "description": "The language of the answer's sentences, as `Accept-Language` chose it",
        "schema": {"enum": list(LOCALES)},
    },
    "Vary": {
        "description": "Includes `Accept-Language`: a cache keeps one answer per language",
        "schema": {"type": "string"},
    },
}

DESCRIPTION = """\
Lumi turns a prompt into four images, and the chosen image into a printable 3D model.

* Every response is [JSend](https://github.com/omniti-labs/jsend): `{"status": "success", "data"}`,
  `{"status": "fail", "data": {"message", "code"}}` for client errors and
  `{"status": "error", "message", "code"}` for server errors. Every 2xx carries a JSON body.
* Authenticate with `Authorization: Bearer <token>`.
* Every route is served under `/api/v1` (canonical) and `/api` (the existing apps).
* Ids are ULIDs; a malformed id is a 404.
* Requests are rate-limited per user (or per address when anonymous): 429 with `Retry-After`.
* Sentences (`message`, validation `reason`s, `errorMessage`) are in `zh-CN` or `en`, as the
  `Accept-Language` header asks (`components.parameters.AcceptLanguage`, valid on every route);
  without one, the server's default (`zh-CN`, which the apps expect). An answer holding one says
  which in `Content-Language`, with `Vary: Accept-Language`. Codes (`data.code`) never change.
"""


def build_document(routes: Sequence[RouteSpec], *, title: str, version: str) -> dict[str, Any]:
    refs, schemas = _schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for spec in routes:
        item = paths.setdefault(spec.openapi_path, {})
        if not spec.prefixed:
            item["servers"] = [{"url": "/", "description": "public files, outside /api"}]
        item[spec.method.lower()] = _operation(spec, refs, schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": DESCRIPTION},
        "servers": [
            {"url": "/api/v1", "description": "canonical"},
            {"url": "/api", "description": "the same routes, as the existing apps call them"},
        ],
        "tags": [{"name": tag} for tag in dict.fromkeys(spec.tag for spec in routes)],
        "paths": paths,
        "components": {
            "schemas": {**schemas, "JSendFail": JSEND_FAIL, "JSendError": JSEND_ERROR},
            "responses": _standard_responses(),
            "parameters": {ACCEPT_LANGUAGE: ACCEPT_LANGUAGE_PARAMETER},
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The token login returned; `Bearer <token>` or the bare token",
                }
            },
        },
    }


Refs = dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]]


def _schemas(routes: Sequence[RouteSpec]) -> tuple[Refs, dict[str, Any]]:
    """Every model once, under its own name (pydantic splits a model whose input and output
    shapes differ into `-Input` and `-Output`)."""
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for spec in routes:
        for model in (spec.body, spec.query):
            if model is not None:
                wanted[(model, "validation")] = None
        if spec.response is not None:
            wanted[(spec.response, "serialization")] = None
    refs, defs = models_json_schema(list(wanted), ref_template=REF_PREFIX + "{model}")
    by_model: Refs = {}
    for (kind, mode), ref in refs.items():
        if issubclass(kind, BaseModel):  # always: only models were asked for
            by_model[(kind, mode)] = ref
    return by_model, dict(defs.get("$defs", {}))


def _operation(spec: RouteSpec, refs: Refs, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": _operation_id(spec),
        "summary": spec.summary,
        "tags": [spec.tag],
        "security": _security(spec),
        "responses": _responses(spec, refs),
    }
    parameters = _path_parameters(spec)
    if spec.query is not None:
        parameters += _query_parameters(schemas, refs[(spec.query, "validation")])
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    return operation


def _operation_id(spec: RouteSpec) -> str:
    words = [part.strip("{}") for part in spec.openapi_path.split("/") if part]
    return "_".join([spec.method.lower(), *words]).replace("-", "_").replace(".", "_")


def _security(spec: RouteSpec) -> list[dict[str, list[str]]]:
    if spec.auth in ("required", "admin"):
        return [{SECURITY_SCHEME: []}]
    if spec.auth == "optional":
        return [{}, {SECURITY_SCHEME: []}]
    return []


def _path_parameters(spec: RouteSpec) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": ULID_SCHEMA if is_id_param(name) else {"type": "string", "minLength": 1},
        }
        for name in spec.params
    ]


def _query_parameters(schemas: dict[str, Any], ref: dict[str, Any]) -> list[dict[str, Any]]:
    model = schemas[ref["$ref"].removeprefix(REF_PREFIX)]
    required = set(model.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": _present(schema)}
        for name, schema in model.get("properties", {}).items()
    ]


def _present(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a value, never null: `int | None = None` documents as the
    integer (a query string cannot even spell null)."""
    branches = [b for b in schema.get("anyOf", []) if b != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf" and (k, v) != ("default", None)}
    return {**rest, **branches[0]} if len(branches) == 1 else rest


def _responses(spec: RouteSpec, refs: Refs) -> dict[str, Any]:
    responses: dict[str, Any] = {str(spec.status): _success(spec, refs)}
    for status in sorted(_error_statuses(spec)):
        if status == 304:
            responses["304"] = NOT_MODIFIED
        else:
            responses[str(status)] = {"$ref": f"#/components/responses/{_component(status)}"}
    return responses


def _error_statuses(spec: RouteSpec) -> set[int]:
    statuses = {500, *spec.responses}
    if spec.rate_limited and spec.prefixed:
        statuses.add(429)
    if spec.body is not None:
        statuses |= {400, 413}
    if spec.query is not None:
        statuses.add(400)
    if spec.auth in ("required", "admin"):
        statuses.add(401)
    if spec.auth == "admin":
        statuses.add(403)
    if spec.id_params or not spec.prefixed:
        statuses.add(404)
    return statuses


def _component(status: int) -> str:
    return STANDARD_RESPONSES[status][0]


def _success(spec: RouteSpec, refs: Refs) -> dict[str, Any]:
    if spec.content_type == EVENT_STREAM and spec.response is not None:
        schema = _event_schema(refs[(spec.response, "serialization")])
        return {"description": spec.summary, "content": {EVENT_STREAM: {"schema": schema}}}
    if not spec.jsend:
        schema = DOCUMENT_SCHEMAS.get(spec.content_type, {"type": "string"})
        return {"description": spec.summary, "content": {spec.content_type: {"schema": schema}}}
    data = {"type": "null"} if spec.response is None else refs[(spec.response, "serialization")]
    envelope = {
        "type": "object",
        "required": ["status", "data"],
        "properties": {"status": {"const": "success"}, "data": data},
    }
    return {"description": spec.summary, "content": {"application/json": {"schema": envelope}}}


def _event_schema(data: dict[str, Any]) -> dict[str, Any]:
    """One event of a stream (before Open API 3.2, `schema` of `text/event-stream` describes each
    event): the unnamed ones carry `data` as JSON with an `id`; the named ones end the stream."""

    def event(name: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": name,
                "id": {"type": "string"},
                "retry": {"type": "integer", "minimum": 0},
                "data": {
                    "type": "string",
                    "contentMediaType": JSON,
                    "contentSchema": payload,
                },
            },
        }

    ending = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
    return {
        "oneOf": [
            event({"const": "message"}, data),
            event({"enum": list(STREAM_ENDINGS)}, ending),
        ]
    }


def _standard_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (name, description) in STANDARD_RESPONSES.items():
        envelope = "JSendError" if status >= 500 else "JSendFail"
        response: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": REF_PREFIX + envelope}}},
        }
        # every error says what is wrong in a sentence, in the reader's language
        response["headers"] = dict(LANGUAGE_HEADERS)
        if status == 429:
            response["headers"]["Retry-After"] = {
                "description": "Seconds until the caller may send again",
                "schema": {"type": "integer", "minimum": 1},
            }
        responses[name] = response
    return responses
