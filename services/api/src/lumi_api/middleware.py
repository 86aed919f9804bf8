"""The API's layers around every handler, outermost first: request id, reader's language and
access log, CORS, JSend error mapping, rate limiting (`lumi_api.ratelimit`), and the route
guard."""

from __future__ import annotations

import re
import time

import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from lumi_api import jsend, texts
from lumi_api.auth.current import require_admin, require_user
from lumi_api.keys import REDIS_BREAKER, SETTINGS
from lumi_api.routing import route_table
from lumi_common.db.transactions import is_outage
from lumi_common.errors import AppError, NotFound, ServiceUnavailable
from lumi_common.i18n import Message, localized, negotiate, rendered_for_reader, use_locale
from lumi_common.i18n import http as common_texts
from lumi_common.ids import canonical_id, new_id

log = structlog.get_logger("lumi_api.http")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
CORS_METHODS = "GET, POST, PATCH, PUT, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-ID"
CORS_MAX_AGE = "600"
# response headers a browser app may read besides the safelisted ones
CORS_EXPOSED = "Retry-After, Idempotent-Replayed, X-Request-ID"
# what a client is told to wait after the database failed it (its pool reconnects at once)
DATABASE_RETRY_AFTER_SECONDS = 1
# aiohttp's own HTTP errors, rendered as JSend with a stable code and a catalogue sentence
_HTTP_ERRORS: dict[int, tuple[str, Message]] = {
    400: ("BAD_REQUEST", common_texts.BAD_REQUEST),
    404: ("NOT_FOUND", common_texts.NOT_FOUND),
    405: ("METHOD_NOT_ALLOWED", common_texts.METHOD_NOT_ALLOWED),
    413: ("PAYLOAD_TOO_LARGE", common_texts.PAYLOAD_TOO_LARGE),
    415: ("UNSUPPORTED_MEDIA_TYPE", common_texts.UNSUPPORTED_MEDIA_TYPE),
}


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else new_id()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    locale = negotiate(
        request.headers.get(hdrs.ACCEPT_LANGUAGE), request.app[SETTINGS].default_locale
    )
    try:
        with use_locale(locale):
            response = await handler(request)
            if rendered_for_reader() and not response.prepared:
                # the answer holds sentences in the reader's language: caches keep one per language
                response.headers[hdrs.CONTENT_LANGUAGE] = locale
                response.headers.add(hdrs.VARY, hdrs.ACCEPT_LANGUAGE)
        status = response.status
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        log.info(
            "http.request.completed",
            method=request.method,
            path=request.path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )


@web.middleware
async def jsend_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AppError as exc:
        return _render_app_error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_ERRORS.get(exc.status, ("HTTP_ERROR", common_texts.HTTP_ERROR))
        response = jsend.fail(message.render(), code=code, status=exc.status)
        response.headers.update({k: v for k, v in exc.headers.items() if k == "Allow"})
        return response
    except Exception as exc:  # the process boundary of a request: log it, never leak details
        unavailable = _unavailable(request, exc)
        if unavailable is not None:
            return _render_app_error(unavailable)
        log.exception("http.request.crashed", method=request.method, path=request.path)
        sentence = common_texts.INTERNAL_ERROR.render()
        return jsend.error(sentence, code="INTERNAL_ERROR", status=500)


class DependencyUnavailable(ServiceUnavailable):
    """Redis or the database did not answer in time: the client may try again shortly."""

    default_message = texts.DEPENDENCY_UNAVAILABLE

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(headers={hdrs.RETRY_AFTER: str(retry_after)})


def _unavailable(request: web.Request, exc: Exception) -> DependencyUnavailable | None:
    """A 503 for Redis or the database not answering in time (hung, down, restarting)."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        retry_after = request.app[REDIS_BREAKER].retry_after
    elif isinstance(exc, SQLAlchemyTimeoutError) or (
        isinstance(exc, DBAPIError) and is_outage(exc)
    ):
        retry_after = DATABASE_RETRY_AFTER_SECONDS
    else:
        return None
    log.warning("http.request.unavailable", path=request.path, error=repr(exc))
    return DependencyUnavailable(retry_after=retry_after)


def _render_app_error(exc: AppError) -> web.Response:
    details = localized(exc.details)
    if exc.status >= 500:
        response = jsend.error(exc.message, code=exc.code, status=exc.status, data=details)
    else:
        response = jsend.fail(exc.message, code=exc.code, status=exc.status, details=details)
    response.headers.update(exc.headers)
    return response


@web.middleware
async def route_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What a route declared, enforced before its handler: the caller first (401), so an
    anonymous caller learns nothing about ids, then the shape of its ids (404, never a query).
    A well-formed id in another letter case is replaced by its canonical spelling here, so a
    handler only ever sees the id as stored (and never names files after a client's spelling)."""
    spec = route_table(request.app).spec_for(request)
    if spec is not None:
        if spec.auth == "required":
            await require_user(request)
        elif spec.auth == "admin":
            await require_admin(request)
        for name in spec.id_params:
            canonical = canonical_id(request.match_info[name])
            if canonical is None:
                raise NotFound(_NOT_FOUND.get(name, common_texts.NOT_FOUND))
            request.match_info[name] = canonical
    return await handler(request)


# what the handler says of a well-formed id nobody has, by the route's parameter
_NOT_FOUND = {
    "task_id": texts.TASK_NOT_FOUND,
    "model_id": texts.MODEL_NOT_FOUND,
    "slice_id": texts.SLICE_NOT_FOUND,
    "printer_id": texts.PRINTER_NOT_FOUND,
    "webhook_id": texts.WEBHOOK_NOT_FOUND,
}


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    settings = request.app[SETTINGS]
    allowed = origin is not None and settings.allows_origin(origin)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response: web.StreamResponse = web.Response(status=204 if allowed else 403)
        if allowed:
            response.headers.update(
                {
                    "Access-Control-Allow-Methods": CORS_METHODS,
                    "Access-Control-Allow-Headers": CORS_HEADERS,
                    "Access-Control-Max-Age": CORS_MAX_AGE,
                }
            )
    else:
        response = await handler(request)
    if allowed and origin is not None:
        _allow(response, origin, credentials=settings.cors_allow_credentials)
    return response


def allow_cors(request: web.Request, response: web.StreamResponse) -> None:
    """The CORS headers of an answer streamed from its handler (sent before `cors` sees it)."""
    origin = request.headers.get("Origin")
    settings = request.app[SETTINGS]
    if origin is not None and settings.allows_origin(origin):
        _allow(response, origin, credentials=settings.cors_allow_credentials)


def _allow(response: web.StreamResponse, origin: str, *, credentials: bool) -> None:
    if "Access-Control-Allow-Origin" in response.headers:
        return  # public files already answer `*`
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
    response.headers["Vary"] = "Origin"
    if credentials:
        response.headers["Access-Control-Allow-Credentials"] = "true"
