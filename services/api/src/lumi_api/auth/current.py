"""The caller of a request, resolved once from its bearer token and kept on the request.

The token comes from the `Authorization` header or, without one, from the signed session cookie.
"""

from __future__ import annotations

import structlog
from aiohttp import hdrs, web

from lumi_api import texts
from lumi_api.auth import service
from lumi_api.auth.service import CurrentUser
from lumi_api.keys import SESSION_COOKIES, SESSIONMAKER, TOKEN_CACHE
from lumi_common.errors import Forbidden, Unauthorized
from lumi_common.time import utcnow

CURRENT_USER = web.RequestKey[CurrentUser | None]("current_user")


# the only state-changing method a form or a `no-cors` fetch can use; PUT, PATCH and DELETE
# are always preflighted, so CORS already keeps other sites' pages from sending them
SIMPLE_UNSAFE_METHODS = frozenset({"POST"})
JSON = "application/json"


class CookieNeedsJson(Forbidden):
    code = "CSRF_REJECTED"
    default_message = texts.COOKIE_NEEDS_JSON


class LoginRequired(Unauthorized):
    # the exact body both apps recognise: they clear the token and show their login screen
    default_message = texts.LOGIN_REQUIRED


async def optional_user(request: web.Request) -> CurrentUser | None:
    """The caller, or None when anonymous; a bad, expired or revoked token is anonymous too."""
    if CURRENT_USER in request:
        return request[CURRENT_USER]
    token = presented_token(request)
    user = None
    if token is not None:
        token_hash, cache = service.hash_token(token), request.app[TOKEN_CACHE]
        user = cache.get(token_hash)
        if user is None:
            async with request.app[SESSIONMAKER].begin() as session:
                user = await service.resolve(session, token_hash, now=utcnow())
            if user is not None:
                cache.put(token_hash, user, expires_at=user.token_expires_at)
    if user is not None:
        structlog.contextvars.bind_contextvars(user_id=user.id)
    request[CURRENT_USER] = user
    return user


async def require_user(request: web.Request) -> CurrentUser:
    user = await optional_user(request)
    if user is None:
        raise LoginRequired()
    return user


class AdminRequired(Forbidden):
    code, default_message = "ADMIN_REQUIRED", texts.ADMIN_REQUIRED


async def require_admin(request: web.Request) -> CurrentUser:
    """A signed-in administrator (`lumi token create --admin`, or `users.is_admin`)."""
    user = await require_user(request)
    if not user.is_admin:
        raise AdminRequired()
    return user


def presented_token(request: web.Request) -> str | None:
    """The header's token when the header is there (it wins, even if bad), else the cookie's."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        return service.token_from_header(header)
    token = request.app[SESSION_COOKIES].token(request)
    if token is not None and request.method in SIMPLE_UNSAFE_METHODS:
        refuse_cross_site(request)
    return token


def refuse_cross_site(request: web.Request) -> None:
    """A browser attaches the session cookie to a form or `no-cors` POST from another site of
    the same registrable domain (SameSite=Lax allows it) without asking CORS first; only JSON
    bodies, which it never sends cross-origin without a preflight, prove the page is ours."""
    if request.content_type != JSON:
        raise CookieNeedsJson()
