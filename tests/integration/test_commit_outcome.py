"""A connection lost during a transaction (issue 12, point 13), on the real MariaDB: the API's
connections go through a proxy that cuts one at a chosen moment and kills the server's side of it
with `KILL <id>` from another connection.

Lost before the COMMIT was sent: the server rolled back, the transaction runs again and the
request succeeds once. Lost once the server committed (its answer to COMMIT never arrives): the
change stands, and running it again would make it twice (a like toggled back off, a delete
answering 404), so the client gets 503 `COMMIT_OUTCOME_UNKNOWN` instead."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest_asyncio
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.settings import ApiSettings
from lumi_api.tasks.writer import TASK_WRITER
from lumi_common.db.tables import GenerationRequest
from tests.support.api import Client
from tests.support.gallery import auth, completed_model
from tests.support.mysql_proxy import MysqlProxy

Sessions = async_sessionmaker[AsyncSession]


@pytest_asyncio.fixture
async def client(
    aiohttp_client: AiohttpClient, proxied_settings: Callable[..., ApiSettings]
) -> Client:
    return await aiohttp_client(create_app(proxied_settings()))


async def like(client: Client, token: IssuedToken, model_id: str) -> tuple[int, Any]:
    response = await client.post(
        f"/api/gallery/models/{model_id}/interactions", json={"type": "LIKE"}, headers=auth(token)
    )
    return response.status, await response.json()


async def liked(client: Client, token: IssuedToken, model_id: str) -> bool:
    response = await client.get(f"/api/gallery/models/{model_id}/interactions", headers=auth(token))
    return "LIKE" in (await response.json())["data"]["interactions"]


async def test_a_toggle_cut_after_its_commit_is_not_flipped_twice(
    client: Client, proxy: MysqlProxy, sessionmaker: Sessions, alice: IssuedToken
) -> None:
    model_id = (await completed_model(client, alice, sessionmaker))["id"]
    cut = proxy.cut("COMMIT", after_reply=True)
    status, body = await like(client, alice, model_id)
    await asyncio.wait_for(cut.wait(), 5)
    assert status == 503
    assert body["code"] == "COMMIT_OUTCOME_UNKNOWN"
    assert await liked(client, alice, model_id)  # committed once, not toggled back off


async def test_a_delete_cut_after_its_commit_does_not_answer_404(
    client: Client, proxy: MysqlProxy, sessionmaker: Sessions, alice: IssuedToken
) -> None:
    created = await client.post("/api/tasks", json={"prompt": "a kite"}, headers=auth(alice))
    task_id = (await created.json())["data"]["id"]
    await client.app[TASK_WRITER].published()  # its own COMMIT marking the events is done
    cut = proxy.cut("COMMIT", after_reply=True)
    response = await client.delete(f"/api/tasks/{task_id}", headers=auth(alice))
    await asyncio.wait_for(cut.wait(), 5)
    assert response.status == 503
    assert (await response.json())["code"] == "COMMIT_OUTCOME_UNKNOWN"
    assert response.headers["Retry-After"] == "1"
    async with sessionmaker() as session:
        assert await session.get(GenerationRequest, task_id) is None  # the delete stands


async def test_a_connection_lost_before_the_commit_runs_the_transaction_again(
    client: Client, proxy: MysqlProxy, sessionmaker: Sessions, alice: IssuedToken
) -> None:
    model_id = (await completed_model(client, alice, sessionmaker))["id"]
    cut = proxy.cut("INSERT", after_reply=False)  # the like's row: never reaches the server
    status, body = await like(client, alice, model_id)
    await asyncio.wait_for(cut.wait(), 5)
    assert status == 200
    assert body["data"]["isInteracted"] is True
    assert body["data"]["likeCount"] == 1
    assert await liked(client, alice, model_id)
