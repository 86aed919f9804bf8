"""`POST /api/auth/send-code`: a hashed 6-digit code, mailed over real SMTP, within rate limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
import structlog
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import texts
from lumi_api.app import create_app
from lumi_api.settings import ApiSettings
from lumi_common.db.tables import EmailCode
from lumi_common.i18n.http import duration
from lumi_common.time import utcnow
from tests.support.api import Client, unique_email
from tests.support.language import problem, said
from tests.support.processes import free_port
from tests.support.smtp import SENDER, Inbox, body_of, post, request_code, send_code, smtp_server

EMAIL_UNAVAILABLE = {
    "status": "error",
    "message": said(texts.EMAIL_UNAVAILABLE),
    "code": "EMAIL_UNAVAILABLE",
}


@pytest_asyncio.fixture
async def inbox() -> AsyncIterator[Inbox]:
    async with smtp_server() as inbox:
        yield inbox


@pytest.fixture
def app_with(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings], inbox: Inbox
) -> Callable[..., Any]:
    async def build(**overrides: Any) -> Client:
        return await aiohttp_client(create_app(settings_factory(**inbox.settings(**overrides))))

    return build


@pytest_asyncio.fixture
async def client(app_with: Callable[..., Any]) -> Client:
    client: Client = await app_with()
    return client


async def codes_of(sessionmaker: async_sessionmaker[AsyncSession], email: str) -> list[EmailCode]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(EmailCode).where(EmailCode.email == email).order_by(EmailCode.created_at)
        )
        return list(rows)


async def test_a_code_is_mailed_and_only_its_hash_is_stored(
    client: Client, inbox: Inbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    email = unique_email("Alice")
    before = utcnow()
    code = await request_code(client, inbox, email.upper(), "register")
    (message,) = inbox.to(email)
    assert message["From"] == SENDER
    assert str(message["To"]) == email.lower()
    assert code in body_of(message)
    assert "10" in body_of(message)  # minutes
    (row,) = await codes_of(sessionmaker, email.lower())
    assert row.purpose.value == "register"
    assert code not in row.code_hash
    assert len(row.code_hash) == 64
    assert row.failed_attempts == 0
    assert row.consumed_at is None
    assert row.requester_ip == "127.0.0.1"
    lifetime = row.expires_at - row.created_at
    assert lifetime == timedelta(minutes=10)
    assert before <= row.created_at <= utcnow()


async def test_codes_are_six_random_digits(app_with: Callable[..., Any], inbox: Inbox) -> None:
    client = await app_with(send_code_interval_seconds=0)
    email = unique_email()
    codes = {await request_code(client, inbox, email) for _ in range(5)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 1


async def test_a_new_code_retires_the_older_ones(
    app_with: Callable[..., Any], inbox: Inbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client = await app_with(send_code_interval_seconds=0)
    email = unique_email()
    first = await request_code(client, inbox, email)
    second = await request_code(client, inbox, email)
    old, new = await codes_of(sessionmaker, email)
    assert old.expires_at <= utcnow() < new.expires_at
    if first != second:
        status, body = await post(client, "/api/auth/login", {"email": email, "code": first})
        assert (status, body["data"]["code"]) == (400, "INVALID_CODE")
    status, body = await post(client, "/api/auth/login", {"email": email, "code": second})
    assert status == 200


CHOICES, LAST = "'login', 'register'", "'modify_password'"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"email": "not-an-address", "type": "login"}, problem("email", texts.NOT_AN_EMAIL)),
        ({"email": "a@b", "type": "login"}, problem("email", texts.NOT_AN_EMAIL)),
        ({"email": 12, "type": "login"}, problem("email", texts.NOT_A_STRING)),
        ({"type": "login"}, problem("email", texts.FIELD_REQUIRED)),
        (
            {"email": "a@example.com", "type": "reset"},
            problem("type", texts.ONE_OF(expected=texts.CHOICES(choices=CHOICES, last=LAST))),
        ),
    ],
)
async def test_bad_input_is_a_validation_error(
    client: Client, payload: dict[str, Any], message: str
) -> None:
    status, body = await post(client, "/api/auth/send-code", payload)
    assert status == 400
    assert body["status"] == "fail"
    assert body["data"]["code"] == "VALIDATION_ERROR"
    assert body["data"]["message"].startswith(message)


@pytest.mark.parametrize("raw", [b"{", b"[]", b"", b'"x"'])
async def test_a_body_that_is_not_a_json_object_is_invalid_json(client: Client, raw: bytes) -> None:
    response = await client.post(
        "/api/auth/send-code", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["data"]["code"] == "INVALID_JSON"


@pytest.mark.parametrize("purpose", ["login", "register", "modify_password"])
async def test_every_purpose_the_clients_send_is_accepted(
    client: Client, inbox: Inbox, purpose: str
) -> None:
    await request_code(client, inbox, unique_email(), purpose)


async def test_one_code_per_address_per_interval(client: Client, inbox: Inbox) -> None:
    email = unique_email()
    await request_code(client, inbox, email)
    response = await client.post(
        "/api/auth/send-code", json={"email": email.upper(), "type": "login"}
    )
    status, body = response.status, await response.json()
    assert response.headers["Retry-After"] == str(body["data"]["details"]["retryAfterSeconds"])
    assert status == 429
    assert body["status"] == "fail"
    assert body["data"]["code"] == "RATE_LIMITED"
    wait = duration(body["data"]["details"]["retryAfterSeconds"])
    assert body["data"]["message"] == said(texts.SEND_CODE_INTERVAL(wait=wait))
    assert 0 < body["data"]["details"]["retryAfterSeconds"] <= 60
    assert len(inbox.to(email)) == 1
    await request_code(client, inbox, unique_email())  # another address is not held back


async def test_at_most_five_codes_per_address_per_hour(
    app_with: Callable[..., Any], inbox: Inbox
) -> None:
    client = await app_with(send_code_interval_seconds=0)
    email = unique_email()
    for _ in range(5):
        await request_code(client, inbox, email)
    status, body = await send_code(client, email)
    assert (status, body["data"]["code"]) == (429, "RATE_LIMITED")
    wait = duration(body["data"]["details"]["retryAfterSeconds"])
    assert body["data"]["message"] == said(texts.SEND_CODE_ADDRESS(wait=wait))
    assert 3500 < body["data"]["details"]["retryAfterSeconds"] <= 3600
    assert len(inbox.to(email)) == 5


async def test_codes_per_client_address_are_limited(
    app_with: Callable[..., Any], inbox: Inbox
) -> None:
    client = await app_with(send_code_per_ip_per_hour=3)
    for _ in range(3):
        # a spoofed X-Forwarded-For changes nothing without TRUSTED_PROXY_HOPS
        status, _ = await send_code(
            client, unique_email(), headers={"X-Forwarded-For": unique_email()}
        )
        assert status == 200
    status, body = await send_code(client, unique_email())
    assert (status, body["data"]["code"]) == (429, "RATE_LIMITED")
    wait = duration(body["data"]["details"]["retryAfterSeconds"])
    assert body["data"]["message"] == said(texts.SEND_CODE_NETWORK(wait=wait))


async def test_behind_a_trusted_proxy_the_last_forwarded_hop_is_the_client(
    app_with: Callable[..., Any], inbox: Inbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client = await app_with(send_code_per_ip_per_hour=1, trusted_proxy_hops=1)

    async def from_(chain: str) -> int:
        status, _ = await send_code(client, unique_email(), headers={"X-Forwarded-For": chain})
        return int(status)

    assert await from_("198.51.100.7, 203.0.113.1") == 200
    # the client cannot pick its bucket by prepending hops: only our proxy's hop counts
    assert await from_("192.0.2.99, 203.0.113.1") == 429
    assert await from_("203.0.113.2") == 200
    email = unique_email()
    status, _ = await send_code(client, email, headers={"X-Forwarded-For": "2001:db8::1"})
    assert status == 200
    (row,) = await codes_of(sessionmaker, email)
    assert row.requester_ip == "2001:db8::"  # IPv6 clients are counted per /64
    assert await from_("2001:db8::2") == 429


async def test_smtp_down_is_a_502_and_leaves_no_usable_code(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    client: Client,
    inbox: Inbox,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    email = unique_email()
    earlier = await request_code(client, inbox, email)
    dead = settings_factory(**inbox.settings(smtp_port=free_port(), send_code_interval_seconds=0))
    broken = await aiohttp_client(create_app(dead))
    for _ in range(3):  # an unsent code does not count against the address
        status, body = await send_code(broken, email)
        assert (status, body) == (502, EMAIL_UNAVAILABLE)
    assert len(await codes_of(sessionmaker, email)) == 1
    status, _ = await post(client, "/api/auth/login", {"email": email, "code": earlier})
    assert status == 200


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param({"refuse": "554 5.7.1 Message rejected"}, id="data-refused"),
        pytest.param({"settings": {"smtp_starttls": True}}, id="starttls-unavailable"),
        pytest.param(
            {
                "auth": ("lumi", "right"),
                "settings": {"smtp_username": "lumi", "smtp_password": "wrong"},
            },
            id="wrong-password",
        ),
    ],
)
async def test_an_smtp_server_that_refuses_is_a_502(
    app_with: Callable[..., Any],
    inbox: Inbox,
    sessionmaker: async_sessionmaker[AsyncSession],
    break_it: dict[str, Any],
) -> None:
    inbox.refuse_with = break_it.get("refuse")
    inbox.credentials = break_it.get("auth")
    client = await app_with(**break_it.get("settings", {}))
    email = unique_email()
    assert await send_code(client, email) == (502, EMAIL_UNAVAILABLE)
    assert await codes_of(sessionmaker, email) == []
    assert inbox.messages == []


async def test_smtp_auth_with_the_right_password_delivers(
    app_with: Callable[..., Any], inbox: Inbox
) -> None:
    inbox.credentials = ("lumi", "s3cret")
    client = await app_with(smtp_username="lumi", smtp_password="s3cret")
    await request_code(client, inbox, unique_email())


async def test_the_console_backend_logs_the_code_and_smtp_never_does(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    client: Client,
    inbox: Inbox,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    console = await aiohttp_client(create_app(settings_factory(email_backend="console")))
    email = unique_email()
    with structlog.testing.capture_logs() as logs:
        status, _ = await send_code(console, email)
    assert status == 200
    printed = [entry for entry in logs if entry["event"] == "email.printed_not_sent"]
    assert len(printed) == 1
    assert printed[0]["to"] == email
    code = printed[0]["body"].split("验证码是 ")[1][:6]
    status, _ = await post(console, "/api/auth/login", {"email": email, "code": code})
    assert status == 200

    other = unique_email()
    with structlog.testing.capture_logs() as logs:
        smtp_code = await request_code(client, inbox, other)
        await post(client, "/api/auth/login", {"email": other, "code": smtp_code})
    assert smtp_code not in repr(logs)
    assert logs  # something was logged, and it held no code


async def test_an_expired_code_cannot_be_used(
    client: Client, inbox: Inbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    email = unique_email()
    code = await request_code(client, inbox, email)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(EmailCode)
            .where(EmailCode.email == email)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    for path in ("/api/auth/register", "/api/auth/login"):
        status, body = await post(client, path, {"email": email, "code": code})
        assert status == 400
        assert body["data"] == {
            "message": said(texts.CODE_REFUSED),
            "code": "INVALID_CODE",
        }
