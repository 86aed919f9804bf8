"""Login abuse (issue 12, points 3 and 7): nobody can lock someone else out of login, guessers
are slowed with a growing wait per client and per address, and every refusal reads the same.

Clients are told apart by the hop a trusted proxy adds to `X-Forwarded-For`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio
from pytest_aiohttp import AiohttpClient

from lumi_api.app import create_app
from lumi_api.settings import ApiSettings
from tests.support.api import Client, unique_email
from tests.support.smtp import Inbox, post, send_code, smtp_server

VICTIM, ATTACKER = "198.51.100.1", "203.0.113.9"


@pytest_asyncio.fixture
async def inbox() -> AsyncIterator[Inbox]:
    async with smtp_server() as inbox:
        yield inbox


@pytest_asyncio.fixture
async def client(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings], inbox: Inbox
) -> Client:
    settings = settings_factory(**inbox.settings(trusted_proxy_hops=1))
    return await aiohttp_client(create_app(settings))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def login(client: Client, email: str, code: str, *, via: str) -> tuple[int, Any, str | None]:
    response = await client.post(
        "/api/auth/login", json={"email": email, "code": code}, headers={"X-Forwarded-For": via}
    )
    return response.status, await response.json(), response.headers.get("Retry-After")


async def code_for(client: Client, inbox: Inbox, email: str, *, via: str) -> str:
    status, _ = await send_code(client, email, headers={"X-Forwarded-For": via})
    assert status == 200
    return inbox.code_for(email)


async def test_a_strangers_guesses_neither_lock_the_code_nor_go_unslowed(
    client: Client, inbox: Inbox
) -> None:
    email = unique_email("victim")
    code = await code_for(client, inbox, email, via=VICTIM)
    for _ in range(5):
        status, body, _ = await login(client, email, wrong(code), via=ATTACKER)
        assert (status, body["data"]["code"]) == (400, "INVALID_CODE")
    status, body, retry_after = await login(client, email, wrong(code), via=ATTACKER)
    assert (status, body["data"]["code"]) == (429, "RATE_LIMITED")
    assert retry_after == "1"
    assert body["data"]["details"] == {"retryAfterSeconds": 1}

    status, body, _ = await login(client, email, code, via=VICTIM)
    assert status == 200, body
    assert body["data"]["token"].startswith("Bearer ")


async def test_the_wait_grows_with_every_further_wrong_code(client: Client) -> None:
    email = unique_email()
    waits = []
    for _ in range(3):
        status, _, retry_after = await login(client, email, "000000", via=ATTACKER)
        while status == 400:
            status, _, retry_after = await login(client, email, "000000", via=ATTACKER)
        assert status == 429
        assert retry_after is not None
        waits.append(int(retry_after))
        await asyncio.sleep(int(retry_after) + 0.1)
    assert waits == [1, 2, 4]


async def test_many_clients_guessing_one_address_are_slowed_together(
    client: Client, inbox: Inbox
) -> None:
    """The per-address count bounds brute force however many clients take part."""
    email = unique_email("victim")
    code = await code_for(client, inbox, email, via=VICTIM)
    for n in range(10):
        status, _, _ = await login(client, email, wrong(code), via=f"192.0.2.{n + 10}")
        assert status == 400
    status, body, retry_after = await login(client, email, wrong(code), via="192.0.2.200")
    assert (status, body["data"]["code"], retry_after) == (429, "RATE_LIMITED", "1")
    await asyncio.sleep(1.1)
    # the code itself was never locked by them
    status, _, _ = await login(client, email, code, via=VICTIM)
    assert status == 200


async def test_asking_for_someone_elses_codes_uses_up_only_the_callers_allowance(
    client: Client, inbox: Inbox
) -> None:
    email = unique_email("victim")
    await code_for(client, inbox, email, via=ATTACKER)
    status, body = await send_code(client, email, headers={"X-Forwarded-For": ATTACKER})
    assert (status, body["data"]["code"]) == (429, "RATE_LIMITED")  # the interval
    # the victim's own request still goes through, at once
    code = await code_for(client, inbox, email, via=VICTIM)
    status, _, _ = await login(client, email, code, via=VICTIM)
    assert status == 200


async def test_every_refused_code_reads_the_same(client: Client, inbox: Inbox) -> None:
    """No oracle: an address that never received a code answers as one with a wrong code,
    an expired one or a used one."""
    with_code = unique_email()
    code = await code_for(client, inbox, with_code, via=VICTIM)
    answers = [
        await post(client, "/api/auth/login", {"email": unique_email(), "code": "123456"}),
        await post(client, "/api/auth/login", {"email": with_code, "code": wrong(code)}),
        await post(client, "/api/auth/register", {"email": unique_email(), "code": "123456"}),
    ]
    assert (await post(client, "/api/auth/login", {"email": with_code, "code": code}))[0] == 200
    answers.append(await post(client, "/api/auth/login", {"email": with_code, "code": code}))
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0][0] == 400
