"""`/api/auth/me` and `/logout`, the session cookie, and which token wins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.auth.cookies import SESSION_COOKIE
from lumi_api.auth.service import IssuedToken, hash_token
from lumi_api.settings import ApiSettings
from lumi_common.db.tables import AuthToken
from tests.support.api import Client, issue, unique_email
from tests.support.smtp import Inbox, post, request_code, smtp_server

ANONYMOUS = {"status": "success", "data": {"status": "unauthenticated", "user": None}}
LOGIN_REQUIRED = {"status": "fail", "data": {"message": "请先登录", "code": "UNAUTHORIZED"}}


@pytest_asyncio.fixture
async def inbox() -> AsyncIterator[Inbox]:
    async with smtp_server() as inbox:
        yield inbox


@pytest_asyncio.fixture
async def client(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings], inbox: Inbox
) -> Client:
    return await aiohttp_client(create_app(settings_factory(**inbox.settings())))


async def log_in(client: Client, inbox: Inbox) -> tuple[str, str]:
    """A fresh user's `Bearer <token>` and session cookie value; the client's jar is emptied."""
    email = unique_email()
    code = await request_code(client, inbox, email)
    response = await client.post("/api/auth/login", json={"email": email, "code": code})
    assert response.status == 200
    header = (await response.json())["data"]["token"]
    cookie = response.cookies[SESSION_COOKIE].value
    client.session.cookie_jar.clear()
    return header, cookie


async def me(client: Client, **headers: str) -> Any:
    response = await client.get("/api/auth/me", headers=headers)
    assert response.status == 200
    assert response.content_type == "application/json"
    return await response.json()


async def update_profile(client: Client, **headers: str) -> tuple[int, Any]:
    return await post(client, "/api/users/update", {"nick_name": "x"}, headers=headers)


def user_id_of(body: Any) -> str | None:
    user = body["data"]["user"]
    return None if user is None else str(user["id"])


async def test_me_without_a_token_is_unauthenticated(client: Client) -> None:
    assert await me(client) == ANONYMOUS


@pytest.mark.parametrize("authorization", ["", "Bearer", "Bearer nonsense", "x" * 5000])
async def test_me_with_a_bad_token_is_unauthenticated_never_401(
    client: Client, authorization: str
) -> None:
    assert await me(client, Authorization=authorization) == ANONYMOUS


async def test_me_with_an_expired_token_is_unauthenticated(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    expired = await issue(sessionmaker, ttl=timedelta(seconds=-1))
    assert await me(client, Authorization=expired.header) == ANONYMOUS


async def test_me_shows_the_user_as_both_apps_read_it(client: Client, alice: IssuedToken) -> None:
    body = await me(client, Authorization=alice.header)
    assert body["status"] == "success"
    assert body["data"]["status"] == "authenticated"
    user = body["data"]["user"]
    assert set(user) == {"id", "userName", "nickName", "email", "avatar", "gender", "stats"}
    assert user["id"] == alice.user_id
    assert user["userName"] == f"lumi_{alice.user_id[-8:].lower()}"  # nothing from the address
    assert (user["nickName"], user["avatar"], user["gender"]) == (None, None, None)
    assert user["stats"] == {
        "totalModels": 0,
        "publicModels": 0,
        "privateModels": 0,
        "totalLikes": 0,
        "totalFavorites": 0,
        "totalViews": 0,
        "totalDownloads": 0,
        "likedModelsCount": 0,
        "favoritedModelsCount": 0,
        "totalRequests": 0,
        "completedRequests": 0,
        "failedRequests": 0,
    }


async def test_login_sets_an_http_only_lax_session_cookie(client: Client, inbox: Inbox) -> None:
    email = unique_email()
    code = await request_code(client, inbox, email)
    response = await client.post("/api/auth/login", json={"email": email, "code": code})
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # not in development or test: plain http://localhost works
    assert int(cookie["max-age"]) == 30 * 86400
    token = (await response.json())["data"]["token"].removeprefix("Bearer ")
    assert token in cookie.value  # signed, not encrypted: the signature follows the token
    assert cookie.value != token


async def test_the_cookie_alone_authenticates(client: Client, inbox: Inbox) -> None:
    header, cookie = await log_in(client, inbox)
    expected = user_id_of(await me(client, Authorization=header))
    assert expected is not None
    assert user_id_of(await me(client, Cookie=f"{SESSION_COOKIE}={cookie}")) == expected
    status, _ = await update_profile(client, Cookie=f"{SESSION_COOKIE}={cookie}")
    assert status == 200


def tampered(cookie: str) -> list[str]:
    token, _, signature = cookie.rpartition(".")
    flipped = "A" if signature[0] != "A" else "B"
    return [
        f"{token}.{flipped}{signature[1:]}",  # forged signature
        f"{token[:-1]}{'x' if token[-1] != 'x' else 'y'}.{signature}",  # altered token
        token,  # signature stripped
        f"{cookie}x",
        "",
        "garbage",
    ]


async def test_a_tampered_cookie_is_anonymous_and_401_where_login_is_required(
    client: Client, inbox: Inbox
) -> None:
    _, cookie = await log_in(client, inbox)
    for value in tampered(cookie):
        headers = {"Cookie": f"{SESSION_COOKIE}={value}"}
        assert await me(client, **headers) == ANONYMOUS, value
        assert await update_profile(client, **headers) == (401, LOGIN_REQUIRED), value


async def test_a_cookie_signed_with_another_secret_is_refused(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    client: Client,
    inbox: Inbox,
) -> None:
    _, cookie = await log_in(client, inbox)
    other = await aiohttp_client(
        create_app(settings_factory(**inbox.settings(cookie_secret="o" * 40)))
    )
    assert await me(other, Cookie=f"{SESSION_COOKIE}={cookie}") == ANONYMOUS


async def test_the_header_wins_over_the_cookie(
    client: Client, inbox: Inbox, alice: IssuedToken
) -> None:
    _, cookie = await log_in(client, inbox)
    both = {"Authorization": alice.header, "Cookie": f"{SESSION_COOKIE}={cookie}"}
    assert user_id_of(await me(client, **both)) == alice.user_id
    # a bad header is not rescued by a good cookie: the caller said who they are
    bad = {"Authorization": "Bearer nonsense", "Cookie": f"{SESSION_COOKIE}={cookie}"}
    assert await me(client, **bad) == ANONYMOUS


async def test_logout_revokes_the_presented_token_and_clears_the_cookie(
    client: Client, inbox: Inbox, alice: IssuedToken, bob: IssuedToken
) -> None:
    response = await client.post(
        "/api/auth/logout", json={}, headers={"Authorization": alice.header}
    )
    assert response.status == 200
    assert await response.json() == {"status": "success", "data": None}
    cleared = response.cookies[SESSION_COOKIE]
    assert cleared.value == ""
    assert cleared["max-age"] == "0"
    assert await me(client, Authorization=alice.header) == ANONYMOUS
    assert await update_profile(client, Authorization=alice.header) == (401, LOGIN_REQUIRED)
    assert user_id_of(await me(client, Authorization=bob.header)) == bob.user_id


async def test_logout_revokes_the_cookie_token_too(
    client: Client, inbox: Inbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    header, cookie = await log_in(client, inbox)
    response = await client.post(
        "/api/auth/logout", json={}, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}
    )
    assert response.status == 200
    assert await me(client, Authorization=header) == ANONYMOUS
    token_hash = hash_token(header.removeprefix("Bearer "))
    async with sessionmaker() as session:
        revoked = await session.scalar(
            select(AuthToken.revoked_at).where(AuthToken.token_hash == token_hash)
        )
    assert revoked is not None


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
async def test_a_cookie_signed_in_post_must_be_json(
    client: Client,
    inbox: Inbox,
    sessionmaker: async_sessionmaker[AsyncSession],
    content_type: str | None,
) -> None:
    """Issue 12, point 9: a page on a sibling site could post a form (or a `no-cors` fetch)
    that the browser sends with the Lax cookie and without asking CORS first."""
    header, cookie = await log_in(client, inbox)
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await client.post(
        "/api/users/update", data=b'{"nick_name": "pwned"}', headers=headers
    )
    body = await response.json()
    assert (response.status, body["data"]["code"]) == (403, "CSRF_REJECTED")
    profile = (await me(client, Authorization=header))["data"]["user"]
    assert profile["nickName"] is None
    # the same body as JSON is the page's own; a bearer header cannot be sent cross-site
    assert (await update_profile(client, Cookie=f"{SESSION_COOKIE}={cookie}"))[0] == 200
    plain = await client.post(
        "/api/users/update",
        data=b'{"nick_name": "y"}',
        headers={"Authorization": header, "Content-Type": "text/plain"},
    )
    assert plain.status == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"}])
async def test_logout_always_succeeds(client: Client, headers: dict[str, str]) -> None:
    response = await client.post("/api/auth/logout", data=b"not json", headers=headers)
    assert response.status == 200
    assert await response.json() == {"status": "success", "data": None}


async def test_the_cookie_is_secure_in_production(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings], inbox: Inbox
) -> None:
    settings = settings_factory(
        **inbox.settings(),
        app_env="production",
        cors_origins="https://lumi.example.com",
        public_base_url="https://api.example.com",
    )
    client = await aiohttp_client(create_app(settings))
    email = unique_email()
    code = await request_code(client, inbox, email)
    response = await client.post("/api/auth/login", json={"email": email, "code": code})
    assert response.status == 200
    assert response.cookies[SESSION_COOKIE]["secure"] is True
