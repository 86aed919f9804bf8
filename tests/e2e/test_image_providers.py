"""Asynchronous image providers and chat-written prompt variants end to end: `lumi-api` and
`lumi-image-worker` as real processes, DashScope, Hunyuan and an OpenAI-compatible chat model
replaced by local emulators of their documented protocols."""

from __future__ import annotations

import json

import pytest
from pytest_aiohttp import AiohttpServer

from lumi_common.providers.errors import REFUSED_MESSAGE
from tests.support import chat_emulator, dashscope_emulator, tencent_emulator
from tests.support.chat_emulator import ChatEmulator
from tests.support.language import said
from tests.support.lumi_client import LumiClient, status_is
from tests.support.model_checks import check_picture
from tests.support.provider_e2e import EmulatedProvider, calls_of, serve, tencent_env
from tests.support.provider_emulation import Emulation
from tests.support.services import Services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
IMAGE_WORKER = "lumi-image-worker"
WORKER_ENV = {
    "IMAGE_POLL_INTERVAL_SECONDS": "0.2",
    "IMAGE_QUEUE_CONCURRENCY": "4",
}
PICTURE_SIDE = 256  # what the emulators draw


PROVIDERS = {
    "dashscope": EmulatedProvider(
        dashscope_emulator.DashScopeEmulator,
        lambda url: {"DASHSCOPE_BASE_URL": url, "DASHSCOPE_API_KEY": dashscope_emulator.KEY},
    ),
    "hunyuan": EmulatedProvider(
        tencent_emulator.TencentEmulator, tencent_env("HUNYUAN_IMAGE_BASE_URL")
    ),
}


async def start(name: str, services: Services, aiohttp_server: AiohttpServer) -> Emulation:
    emulation, env = await serve(PROVIDERS[name], aiohttp_server)
    await services.start_worker(IMAGE_WORKER, IMAGE_PROVIDER=name, **WORKER_ENV, **env)
    return emulation


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_each_asynchronous_image_provider_makes_the_four_pictures(
    name: str, services: Services, client: LumiClient, aiohttp_server: AiohttpServer
) -> None:
    emulation = await start(name, services, aiohttp_server)
    emulation.script.running_polls, emulation.script.rate_limited = 2, 1
    emulation.script.retry_after = 0.3
    created = await client.create_task("a lighthouse on a rock")
    ready = await client.watch(created).until(status_is("IMAGE_COMPLETED"))
    assert [image["imageStatus"] for image in ready["images"]] == ["COMPLETED"] * 4
    for image in ready["images"]:
        await check_picture(client, image["imageUrl"], services.base_url, side=PICTURE_SIDE)
    assert len(emulation.tasks) == 4  # one task per picture: polls did not submit again
    calls = await calls_of(services, created["id"])
    assert {(c["stage"], c["provider"]) for c in calls} == {("image", name)}
    assert [c["outcome"] for c in calls].count("rate_limited") == 1
    assert sum(1 for c in calls if (c["operation"], c["outcome"]) == ("download", "ok")) == 4
    assert sum(c["cost"] or 0 for c in calls) == 4  # one picture each


async def test_a_refused_prompt_fails_its_images_with_a_clear_message(
    services: Services, client: LumiClient, aiohttp_server: AiohttpServer
) -> None:
    emulation = await start("dashscope", services, aiohttp_server)
    emulation.script.refuse = True
    created = await client.create_task("something the provider refuses")
    failed = await client.watch(created).until(status_is("IMAGE_FAILED"), failed=frozenset())
    assert {image["errorMessage"] for image in failed["images"]} == {said(REFUSED_MESSAGE)}


async def test_a_chat_model_writes_the_prompt_variants(
    services: Services, client: LumiClient, aiohttp_server: AiohttpServer
) -> None:
    chat = ChatEmulator()
    server = await aiohttp_server(chat.app(), host="127.0.0.1")
    await services.start_worker(
        IMAGE_WORKER,
        IMAGE_QUEUE_CONCURRENCY="4",
        PROMPT_PROVIDER="openai",
        PROMPT_API_BASE_URL=str(server.make_url("/v1")),
        PROMPT_API_KEY=chat_emulator.KEY,
    )
    created = await client.create_task("一只戴帽子的小猫")
    offline = [image["imagePrompt"] for image in created["images"]]
    ready = await client.watch(created).until(status_is("IMAGE_COMPLETED"))
    prompts = [image["imagePrompt"] for image in ready["images"]]
    assert (ready["promptProvider"], ready["promptNote"]) == ("openai", None)
    assert prompts == json.loads(chat.content(created["originalPrompt"]))["variants"]
    assert set(prompts).isdisjoint(offline)
    assert len(chat.requests) == 1  # asked once for the whole request
    calls = await calls_of(services, created["id"])
    assert [(c["provider"], c["operation"], c["outcome"]) for c in calls] == [
        ("openai-chat", "variants", "ok")
    ]


async def test_a_failing_chat_model_leaves_the_offline_variants_and_says_so(
    services: Services, client: LumiClient, aiohttp_server: AiohttpServer
) -> None:
    chat = ChatEmulator(mode="slow", slow_seconds=5)
    server = await aiohttp_server(chat.app(), host="127.0.0.1")
    await services.start_worker(
        IMAGE_WORKER,
        PROMPT_PROVIDER="openai",
        PROMPT_API_BASE_URL=str(server.make_url("/v1")),
        PROMPT_API_KEY=chat_emulator.KEY,
        PROMPT_TIMEOUT_SECONDS="1",
    )
    created = await client.create_task("a teapot")
    ready = await client.watch(created).until(status_is("IMAGE_COMPLETED"))
    assert ready["promptProvider"] == "offline"
    assert "did not answer in time" in ready["promptNote"]
    assert [i["imagePrompt"] for i in ready["images"]] == [
        i["imagePrompt"] for i in created["images"]
    ]
    worker = next(s for s in services.started if s.name == IMAGE_WORKER)
    assert any(e.get("event") == "prompt_variants.fallback" for e in worker.events())
