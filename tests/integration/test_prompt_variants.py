"""Prompt variants from a chat model at the image stage: asked once per request, written to the
images (bumping the request), and a failure or timeout keeps the offline variants and says so."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import SecretStr
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, GenerationRequest
from lumi_common.providers.calls import CallLog
from lumi_common.providers.http import Timeouts
from lumi_image_worker.providers.chat_prompts import ChatPromptVariants
from lumi_image_worker.variants import OFFLINE, PENDING, variants_ready
from tests.support import chat_emulator
from tests.support.chat_emulator import ChatEmulator
from tests.support.factories import create_task

Sessions = async_sessionmaker[AsyncSession]
STALE = timedelta(seconds=30)


async def chat(aiohttp_server: AiohttpServer, emulator: ChatEmulator) -> ChatPromptVariants:
    server = await aiohttp_server(emulator.app(), host="127.0.0.1")
    return ChatPromptVariants(
        base_url=str(server.make_url("/v1")),
        model="test-chat",
        api_key=SecretStr(chat_emulator.KEY),
        calls=CallLog(),
        timeouts=Timeouts(connect=1.0, read=0.5, total=1.0),
    )


async def state(sessionmaker: Sessions, request_id: str) -> tuple[GenerationRequest, list[str]]:
    async with sessionmaker() as session:
        request = await session.get(GenerationRequest, request_id)
        prompts = await session.scalars(
            select(GeneratedImage.image_prompt)
            .where(GeneratedImage.request_id == request_id)
            .order_by(GeneratedImage.image_index)
        )
        assert request is not None
        return request, list(prompts)


async def test_the_first_job_asks_once_and_the_others_wait_for_it(
    sessionmaker: Sessions, aiohttp_server: AiohttpServer
) -> None:
    task = await create_task(sessionmaker)
    before, offline = await state(sessionmaker, task.request_id)
    emulator = ChatEmulator(mode="slow", slow_seconds=0.3)
    source = await chat(aiohttp_server, emulator)
    ready = await asyncio.gather(
        *(
            variants_ready(sessionmaker, source, request_id=task.request_id, stale_after=STALE)
            for _ in range(4)
        )
    )
    assert sorted(ready) == [False, False, False, True]  # one asked, three were told to wait
    assert len(emulator.requests) == 1
    request, prompts = await state(sessionmaker, task.request_id)
    assert (request.prompt_provider, request.prompt_note) == ("openai", None)
    assert prompts != offline
    assert len(set(prompts)) == 4
    assert all(prompt.startswith("a small cat") for prompt in prompts)
    assert request.updated_at > before.updated_at
    # the waiting jobs come back: ready now, and nobody asks again
    assert await variants_ready(sessionmaker, source, request_id=task.request_id, stale_after=STALE)
    assert len(emulator.requests) == 1


async def test_a_failing_chat_model_keeps_the_offline_variants_and_says_so(
    sessionmaker: Sessions, aiohttp_server: AiohttpServer
) -> None:
    task = await create_task(sessionmaker)
    _, offline = await state(sessionmaker, task.request_id)
    source = await chat(aiohttp_server, ChatEmulator(mode="slow", slow_seconds=3))
    assert await variants_ready(sessionmaker, source, request_id=task.request_id, stale_after=STALE)
    request, prompts = await state(sessionmaker, task.request_id)
    assert request.prompt_provider == OFFLINE
    assert request.prompt_note is not None
    assert "did not answer in time" in request.prompt_note
    assert prompts == offline


async def test_a_claim_whose_worker_died_is_taken_over(
    sessionmaker: Sessions, aiohttp_server: AiohttpServer
) -> None:
    task = await create_task(sessionmaker)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(GenerationRequest)
            .where(GenerationRequest.id == task.request_id)
            .values(prompt_provider=PENDING, prompt_claimed_at=GenerationRequest.created_at)
        )
    source = await chat(aiohttp_server, ChatEmulator())
    fresh = timedelta(days=1)
    assert not await variants_ready(
        sessionmaker, source, request_id=task.request_id, stale_after=fresh
    )
    assert await variants_ready(
        sessionmaker, source, request_id=task.request_id, stale_after=timedelta(0)
    )
    request, _ = await state(sessionmaker, task.request_id)
    assert request.prompt_provider == "openai"
