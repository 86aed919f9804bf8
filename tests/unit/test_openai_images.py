"""The OpenAI-compatible image adapter against a local server speaking that protocol."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pytest_aiohttp import AiohttpServer

from lumi_common.errors import PermanentError, RetryableError
from lumi_image_worker.providers.openai_images import OpenAIImageGenerator
from tests.support.emulators import OpenAIImagesEmulator


async def generator_for(
    aiohttp_server: AiohttpServer, emulator: OpenAIImagesEmulator
) -> OpenAIImageGenerator:
    server = await aiohttp_server(emulator.app())
    return OpenAIImageGenerator(
        base_url=str(server.make_url("/v1")), model="test-image", api_key="k"
    )


async def test_returns_the_decoded_picture(aiohttp_server: AiohttpServer) -> None:
    generator = await generator_for(aiohttp_server, OpenAIImagesEmulator())
    image = await generator.generate("a cat", seed=3)
    assert image.content_type == "image/png"
    assert Image.open(io.BytesIO(image.data)).size == (1024, 1024)
    assert image.provider == "openai"


async def test_overload_is_retryable(aiohttp_server: AiohttpServer) -> None:
    generator = await generator_for(aiohttp_server, OpenAIImagesEmulator(fail_first=1))
    with pytest.raises(RetryableError):
        await generator.generate("a cat", seed=3)
    assert (await generator.generate("a cat", seed=3)).data


async def test_a_refusal_is_permanent_with_the_provider_reason(
    aiohttp_server: AiohttpServer,
) -> None:
    generator = await generator_for(aiohttp_server, OpenAIImagesEmulator(fail_always=400))
    with pytest.raises(PermanentError, match="safety system"):
        await generator.generate("a cat", seed=3)


async def test_unreachable_provider_is_retryable() -> None:
    generator = OpenAIImageGenerator(base_url="http://127.0.0.1:1/v1", model="m", timeout=2)
    with pytest.raises(RetryableError):
        await generator.generate("a cat", seed=3)
