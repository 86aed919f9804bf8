"""Bearer tokens on required routes: the exact 401 both apps recognise, and what counts as valid."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import texts
from lumi_api.app import create_app
from lumi_api.auth import service as auth_service
from lumi_api.auth.current import optional_user
from lumi_api.auth.service import IssuedToken
from lumi_api.cli.errors import ExitCode
from lumi_api.cli.main import run as lumi
from lumi_api.settings import ApiSettings
from lumi_common.db.tables import AuthToken, User
from lumi_common.ids import new_id
from lumi_common.time import utcnow
from tests.support.api import Client, issue, unique_email
from tests.support.language import said

LOGIN_REQUIRED = {"status": "fail", "data": {"message": "请先登录", "code": "UNAUTHORIZED"}}


def unknown_task() -> str:
    return f"/api/tasks/{new_id()}"


def run_lumi(*args: str) -> int:
    """The exit code of `lumi …`; it runs its own event loop, so tests call it in a thread."""
    return lumi(list(args))


async def status_of(client: Client, authorization: str | None) -> tuple[int, object]:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get(unknown_task(), headers=headers)
    return response.status, await response.json()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "garbage",
        "Basic dXNlcjpwYXNz",
        "x" * 5000,
    ],
)
async def test_missing_or_unknown_token_is_the_login_required_401(
    client: Client, authorization: str | None
) -> None:
    assert await status_of(client, authorization) == (401, LOGIN_REQUIRED)


async def test_token_works_with_and_without_the_bearer_prefix(
    client: Client, alice: IssuedToken
) -> None:
    # a valid caller gets past auth: the unknown task is then a 404, not a 401
    for value in (alice.header, alice.token, f"bearer  {alice.token} ", f"  {alice.header}"):
        status, body = await status_of(client, value)
        assert status == 404, value
        assert body == {
            "status": "fail",
            "data": {"message": said(texts.TASK_NOT_FOUND), "code": "NOT_FOUND"},
        }


async def test_optional_auth_treats_a_bad_token_as_anonymous(
    aiohttp_client: AiohttpClient,
    api_settings: ApiSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    alice: IssuedToken,
) -> None:
    async def whoami(request: web.Request) -> web.Response:
        user = await optional_user(request)
        return web.json_response({"user": None if user is None else user.id})

    app = create_app(api_settings)
    app.router.add_get("/whoami", whoami)
    client = await aiohttp_client(app)
    expired = await issue(sessionmaker, ttl=timedelta(seconds=-1))
    for header, expected in [
        (None, None),
        ("Bearer nonsense", None),
        (expired.header, None),
        (alice.header, alice.user_id),
        (alice.token, alice.user_id),
    ]:
        response = await client.get("/whoami", headers={"Authorization": header} if header else {})
        assert response.status == 200
        assert await response.json() == {"user": expected}


async def test_expired_token_is_refused(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    expired = await issue(sessionmaker, ttl=timedelta(seconds=-1))
    assert await status_of(client, expired.header) == (401, LOGIN_REQUIRED)


async def test_revoked_tokens_are_refused_and_others_are_not(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    email = unique_email()
    first = await issue(sessionmaker, email=email)
    second = await issue(sessionmaker, email=email)
    other = await issue(sessionmaker)
    async with sessionmaker.begin() as session:
        revoked = await auth_service.revoke_all(session, email=email, now=utcnow())
    assert revoked is not None
    assert revoked.count == 2
    for token in (first, second):
        assert await status_of(client, token.header) == (401, LOGIN_REQUIRED)
    assert (await status_of(client, other.header))[0] == 404


async def test_last_used_is_written_at_most_once_a_minute(
    uncached_client: Client, sessionmaker: async_sessionmaker[AsyncSession], alice: IssuedToken
) -> None:
    client = uncached_client

    async def last_used() -> object:
        async with sessionmaker() as session:
            return await session.scalar(
                select(AuthToken.last_used_at).where(AuthToken.id == alice.token_id)
            )

    assert await last_used() is None
    await status_of(client, alice.header)
    first = await last_used()
    assert first is not None
    await status_of(client, alice.header)
    assert await last_used() == first
    long_ago = utcnow() - timedelta(minutes=5)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(AuthToken).where(AuthToken.id == alice.token_id).values(last_used_at=long_ago)
        )
    await status_of(client, alice.header)
    assert await last_used() > long_ago  # type: ignore[operator]


async def test_cli_creates_user_and_token_then_revokes(
    uncached_client: Client,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = uncached_client  # the CLI revokes outside this process
    monkeypatch.setenv("DATABASE_URL", database_url)
    email = unique_email("Ops.Person")
    code = await asyncio.to_thread(
        run_lumi, "token", "create", "--email", email, "--admin", "--days", "2"
    )
    assert code == 0
    header = capsys.readouterr().out.strip()
    assert header.startswith("Bearer ")
    assert (await status_of(client, header))[0] == 404
    async with sessionmaker() as session:
        user = (await session.scalars(select(User).where(User.email == email.lower()))).one()
        token = (await session.scalars(select(AuthToken).where(AuthToken.user_id == user.id))).one()
    assert user.user_name == f"lumi_{user.id[-8:].lower()}"  # nothing from the address
    assert user.is_admin
    assert timedelta(days=2) - (token.expires_at - token.created_at) < timedelta(seconds=1)
    assert token.token_hash == auth_service.hash_token(header.removeprefix("Bearer "))

    assert await asyncio.to_thread(run_lumi, "token", "revoke", "--email", email) == 0
    assert await status_of(client, header) == (401, LOGIN_REQUIRED)


def test_cli_revoke_of_unknown_user_fails(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert run_lumi("token", "revoke", "--email", unique_email()) == ExitCode.NOT_FOUND
    assert "no user" in capsys.readouterr().err


async def test_a_resolved_token_is_trusted_for_the_cache_window_only(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A revocation outside the process (another replica, the CLI) takes effect here once the
    short cache window ends; an unknown token is never cached."""
    client = await aiohttp_client(create_app(settings_factory(token_cache_seconds=0.5)))
    email = unique_email()
    token = await issue(sessionmaker, email=email)
    assert (await status_of(client, token.header))[0] == 404  # resolved and cached
    async with sessionmaker.begin() as session:
        await auth_service.revoke_all(session, email=email, now=utcnow())
    assert (await status_of(client, token.header))[0] == 404  # still cached here
    await asyncio.sleep(0.6)
    assert await status_of(client, token.header) == (401, LOGIN_REQUIRED)
    assert await status_of(client, token.header) == (401, LOGIN_REQUIRED)


async def test_a_token_never_outlives_its_expiry_in_the_cache(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    token = await issue(sessionmaker, ttl=timedelta(milliseconds=400))
    assert (await status_of(client, token.header))[0] == 404
    await asyncio.sleep(0.5)
    assert await status_of(client, token.header) == (401, LOGIN_REQUIRED)
