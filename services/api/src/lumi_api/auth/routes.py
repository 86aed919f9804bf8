"""`/auth`: e-mail codes, register, login (bearer token + session cookie), me, logout.

Every answer is JSend with a JSON body. A wrong, expired, used or locked code is 400
`INVALID_CODE`, never a 401 (the web app would take a 401 for an expired session).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import structlog
from aiohttp import hdrs, web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api import jsend
from lumi_api.auth import codes, invalidation, service
from lumi_api.auth.attempts import LoginAttempts, Try
from lumi_api.auth.cache import TokenCache
from lumi_api.auth.codes import CodeRules, InvalidCode
from lumi_api.auth.cookies import SessionCookies
from lumi_api.auth.current import optional_user
from lumi_api.auth.ratelimit import SendCodeLimiter
from lumi_api.auth.schemas import CodeBody, LoginOut, MeOut, SendCodeBody
from lumi_api.body import parse_body
from lumi_api.client_address import client_address
from lumi_api.keys import MAILER, REDIS, SESSION_COOKIES, SESSIONMAKER, SETTINGS, TOKEN_CACHE
from lumi_api.mail.sender import EmailUnavailable, create_mailer
from lumi_api.routing import add_route
from lumi_api.settings import ApiSettings
from lumi_api.users.profile import service as profiles
from lumi_common.db.transactions import in_transaction
from lumi_common.i18n import current_locale
from lumi_common.time import utcnow

T = TypeVar("T")
log = structlog.get_logger(__name__)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[SESSION_COOKIES] = SessionCookies(
        settings.cookie_secret.get_secret_value(),
        secure=settings.is_production,
        max_age_seconds=int(timedelta(days=settings.token_ttl_days).total_seconds()),
    )
    app[MAILER] = create_mailer(settings)
    app[TOKEN_CACHE] = TokenCache(settings.token_cache_seconds)
    app.cleanup_ctx.append(invalidation.listener_ctx)  # after the Redis client's context
    route = functools.partial(add_route, app, tag="auth")
    route(
        "POST",
        "/auth/send-code",
        send_code,
        summary="E-mail a login code (429 when asked too often; 502 when it cannot be sent)",
        auth="none",
        body=SendCodeBody,
        responses=(502,),
    )
    route(
        "POST",
        "/auth/register",
        register,
        summary="Check a code and create the account (the code stays valid for login)",
        auth="none",
        body=CodeBody,
    )
    route(
        "POST",
        "/auth/login",
        login,
        summary="Exchange a code for a bearer token (a wrong code is 400 `INVALID_CODE`)",
        auth="none",
        body=CodeBody,
        response=LoginOut,
    )
    route(
        "GET",
        "/auth/me",
        me,
        summary="The caller's profile and stats, or `unauthenticated`",
        auth="optional",
        response=MeOut,
    )
    route(
        "POST",
        "/auth/logout",
        logout,
        summary="Revoke the presented token (and session cookie); succeeds regardless",
        auth="optional",
    )


async def send_code(request: web.Request) -> web.Response:
    body = await parse_body(request, SendCodeBody)
    settings, sessionmaker = request.app[SETTINGS], request.app[SESSIONMAKER]
    limiter = SendCodeLimiter(
        request.app[REDIS], prefix=settings.redis_key_prefix, settings=settings
    )
    client = client_address(request, settings.trusted_proxy_hops)
    grant = await limiter.take(email=body.email, client=client)
    rules, code = _rules(settings), codes.new_code()
    async with sessionmaker.begin() as session:
        code_id = codes.store(
            session,
            rules,
            email=body.email,
            code=code,
            purpose=body.type,
            requester_ip=client,
            now=utcnow(),
        )
    try:
        await request.app[MAILER].send(
            codes.code_message(to=body.email, code=code, ttl=rules.ttl, locale=current_locale())
        )
    except EmailUnavailable:
        # nobody received this code: drop it, and let the address ask again at once
        async with sessionmaker.begin() as session:
            await codes.discard(session, code_id)
        await limiter.refund(grant)
        raise
    async with sessionmaker.begin() as session:
        await codes.retire_others(session, email=body.email, keep_id=code_id, now=utcnow())
    log.info("auth.code_sent", code_id=code_id, purpose=body.type.value)
    return jsend.success(None)


async def register(request: web.Request) -> web.Response:
    """Checks the code without using it up: mobile logs in with the same code right after."""
    body = await parse_body(request, CodeBody)
    rules, now = _rules(request.app[SETTINGS]), utcnow()
    client, attempt = await _begin_try(request, body.email)

    async def work(session: AsyncSession) -> str | None:
        refused = await codes.check(
            session, rules, email=body.email, code=body.code, client=client, consume=False, now=now
        )
        if refused is None:
            await service.ensure_user(session, email=body.email, now=now)
        return refused

    refused = await _run(request, work)
    if refused is not None:
        raise _invalid(refused)
    await _attempts(request).succeeded(attempt)
    return jsend.success(None)


async def login(request: web.Request) -> web.Response:
    body = await parse_body(request, CodeBody)
    settings, now = request.app[SETTINGS], utcnow()
    rules, ttl = _rules(settings), timedelta(days=settings.token_ttl_days)
    client, attempt = await _begin_try(request, body.email)

    async def work(session: AsyncSession) -> service.IssuedToken | str:
        refused = await codes.check(
            session, rules, email=body.email, code=body.code, client=client, consume=True, now=now
        )
        if refused is not None:
            return refused
        return await service.log_in(session, email=body.email, ttl=ttl, now=now)

    issued = await _run(request, work)
    if isinstance(issued, str):
        raise _invalid(issued)
    await _attempts(request).succeeded(attempt)
    log.info("auth.logged_in", user_id=issued.user_id, token_id=issued.token_id)
    response = jsend.success(LoginOut(token=issued.header).to_json())
    request.app[SESSION_COOKIES].set(response, issued.token)
    return response


def _attempts(request: web.Request) -> LoginAttempts:
    settings = request.app[SETTINGS]
    return LoginAttempts(request.app[REDIS], prefix=settings.redis_key_prefix, settings=settings)


async def _begin_try(request: web.Request, email: str) -> tuple[str, Try]:
    """The caller's client, and its try counted (429 while it must wait)."""
    client = client_address(request, request.app[SETTINGS].trusted_proxy_hops)
    return client, await _attempts(request).begin(email=email, client=client)


async def me(request: web.Request) -> web.Response:
    """Always 200: a missing, bad or expired token (or cookie) is simply `unauthenticated`."""
    caller = await optional_user(request)
    profile = None
    if caller is not None:
        async with request.app[SESSIONMAKER]() as session:
            profile = await profiles.load(session, user_id=caller.id)
    out = MeOut(status="authenticated" if profile else "unauthenticated", user=profile)
    return jsend.success(out.to_json())


async def logout(request: web.Request) -> web.Response:
    """Revokes whatever token was presented (header and cookie); succeeds regardless."""
    cookies = request.app[SESSION_COOKIES]
    presented = (
        service.token_from_header(request.headers.get(hdrs.AUTHORIZATION)),
        cookies.token(request),
    )
    tokens = {token for token in presented if token}
    if tokens:
        async with request.app[SESSIONMAKER].begin() as session:
            revoked = await service.revoke_tokens(session, tokens, now=utcnow())
        # after the commit: a request resolving the token meanwhile cannot cache it again
        prefix = request.app[SETTINGS].redis_key_prefix
        for token_hash in map(service.hash_token, tokens):
            request.app[TOKEN_CACHE].forget(token_hash)
            await invalidation.forget_token(request.app[REDIS], prefix, token_hash)
        log.info("auth.logged_out", revoked=revoked)
    response = jsend.success(None)
    cookies.clear(response)
    return response


def _rules(settings: ApiSettings) -> CodeRules:
    return CodeRules.of(settings, secret=settings.cookie_secret.get_secret_value())


def _invalid(reason: str) -> InvalidCode:
    log.info("auth.code_refused", reason=reason)
    return InvalidCode()  # one answer for every reason (no oracle)


async def _run(request: web.Request, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one transaction; once more if a concurrent request created the same user."""
    try:
        return await in_transaction(request.app[SESSIONMAKER], work)
    except IntegrityError:
        return await in_transaction(request.app[SESSIONMAKER], work)
