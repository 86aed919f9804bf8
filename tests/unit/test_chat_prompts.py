"""Prompt variants from an OpenAI-compatible chat endpoint (a local emulator): four distinct
prompts validated with pydantic, and every way a model can let us down."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from pytest_aiohttp import AiohttpServer

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.calls import CallLog
from lumi_common.providers.http import Timeouts
from lumi_image_worker.providers.chat_prompts import ChatPromptVariants
from tests.support import chat_emulator
from tests.support.chat_emulator import ChatEmulator
from tests.support.provider_emulation import MemoryCalls


async def variants_from(
    aiohttp_server: AiohttpServer, emulator: ChatEmulator, *, key: str = chat_emulator.KEY
) -> tuple[ChatPromptVariants, MemoryCalls]:
    server = await aiohttp_server(emulator.app(), host="127.0.0.1")
    recorded = MemoryCalls()
    client = ChatPromptVariants(
        base_url=str(server.make_url("/v1")),
        model="test-chat",
        api_key=SecretStr(key),
        calls=CallLog((recorded,)),
        timeouts=Timeouts(connect=1.0, read=0.5, total=1.0),
    )
    return client, recorded


async def test_four_distinct_variants_of_the_users_idea(aiohttp_server: AiohttpServer) -> None:
    emulator = ChatEmulator()
    client, recorded = await variants_from(aiohttp_server, emulator)
    variants = await client.variants("一只戴帽子的小猫")
    assert len(variants) == 4
    assert len(set(variants)) == 4
    assert all(v.startswith("一只戴帽子的小猫") for v in variants)
    request = emulator.requests[0]
    assert request["response_format"] == {"type": "json_object"}
    assert request["messages"][-1] == {"role": "user", "content": "一只戴帽子的小猫"}  # type: ignore[index]
    (call,) = recorded.calls
    assert (call.provider, call.operation, call.outcome) == ("openai-chat", "variants", "ok")
    assert (call.cost, call.cost_unit) == (320.0, "tokens")


@pytest.mark.parametrize("mode", ["prose", "three", "duplicates"])
async def test_an_answer_that_is_not_four_distinct_variants_is_refused(
    aiohttp_server: AiohttpServer, mode: str
) -> None:
    client, _ = await variants_from(aiohttp_server, ChatEmulator(mode=mode))
    with pytest.raises(RetryableError, match="unusable"):
        await client.variants("a cat")


async def test_a_slow_model_times_out(aiohttp_server: AiohttpServer) -> None:
    client, recorded = await variants_from(aiohttp_server, ChatEmulator(mode="slow"))
    with pytest.raises(RetryableError, match="did not answer in time"):
        await client.variants("a cat")
    assert recorded.calls[0].outcome == "retryable_error"


async def test_errors_and_bad_keys(aiohttp_server: AiohttpServer) -> None:
    client, _ = await variants_from(aiohttp_server, ChatEmulator(mode="error"))
    with pytest.raises(RetryableError):
        await client.variants("a cat")
    client, _ = await variants_from(aiohttp_server, ChatEmulator(), key="wrong")
    with pytest.raises(PermanentError, match="bad key"):
        await client.variants("a cat")
