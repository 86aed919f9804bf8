"""Hosted providers end to end: `lumi-api`, `lumi-image-worker` and `lumi-model-worker` as real
processes, each 3D provider replaced by a local emulator of its documented protocol (rate limit,
an expired result URL and a resubmission included), then a moderation refusal as the client
sees it, and `lumi calls` showing what the request cost."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpServer

from lumi_common.providers.errors import REFUSED_MESSAGE
from tests.support import meshy_emulator, tencent_emulator, tripo_emulator
from tests.support.language import said
from tests.support.lumi_client import LumiClient, Task, TaskWatch, status_is
from tests.support.model_checks import check_model_files
from tests.support.provider_e2e import EmulatedProvider, calls_of, serve, tencent_env
from tests.support.provider_emulation import Emulation
from tests.support.services import Services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
IMAGE_WORKER, MODEL_WORKER = "lumi-image-worker", "lumi-model-worker"
WORKER_ENV = {
    "PROVIDER_READ_TIMEOUT_SECONDS": "5",
}


PROVIDERS = {
    "tripo": EmulatedProvider(
        tripo_emulator.TripoEmulator,
        lambda url: {"TRIPO_BASE_URL": f"{url}/v3", "TRIPO_API_KEY": tripo_emulator.KEY},
    ),
    "meshy": EmulatedProvider(
        meshy_emulator.MeshyEmulator,
        lambda url: {"MESHY_BASE_URL": url, "MESHY_API_KEY": meshy_emulator.KEY},
    ),
    "hunyuan3d": EmulatedProvider(
        tencent_emulator.TencentEmulator, tencent_env("HUNYUAN3D_BASE_URL")
    ),
}


async def start(name: str, services: Services, aiohttp_server: AiohttpServer) -> Emulation:
    emulation, env = await serve(PROVIDERS[name], aiohttp_server)
    await services.start_worker(IMAGE_WORKER, IMAGE_QUEUE_CONCURRENCY="4")
    await services.start_worker(MODEL_WORKER, MODEL_PROVIDER=name, **WORKER_ENV, **env)
    return emulation


async def model_of(client: LumiClient, prompt: str) -> tuple[TaskWatch, Task]:
    """A task through its images to the model stage: the watch and the selection's answer."""
    created = await client.create_task(prompt)
    await client.watch(created).until(status_is("IMAGE_COMPLETED"))
    chosen = await client.select_image(created["id"], 2)
    return TaskWatch(client, created["id"], since=chosen["task"]["updatedAt"]), chosen


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_each_hosted_3d_provider_makes_the_model_through_its_trouble(
    name: str,
    services: Services,
    client: LumiClient,
    aiohttp_server: AiohttpServer,
    tmp_path: Path,
) -> None:
    emulation = await start(name, services, aiohttp_server)
    script = emulation.script
    script.running_polls, script.rate_limited, script.retry_after = 2, 1, 0.5
    script.expired_downloads = 1  # the first result URL lapses: one resubmission

    watch, chosen = await model_of(client, "a sturdy robot figurine")
    done = await watch.until(lambda t: (t["status"], t["phase"]) == ("COMPLETED",) * 2)
    model = done["model"]
    assert model["generationJob"]["status"] == "COMPLETED"
    await check_model_files(client, model, tmp_path / "download", services.base_url)
    assert max(model["printSizeMm"].values()) == pytest.approx(100.0)
    assert model["printSizeMm"]["z"] == pytest.approx(100.0)  # the figurine stands on the bed
    assert len(emulation.tasks) == 2  # submitted, expired, submitted once more

    calls = [c for c in await calls_of(services, chosen["task"]["id"]) if c["stage"] == "model"]
    assert {c["provider"] for c in calls} == {name}
    outcomes = [(c["operation"], c["outcome"]) for c in calls]
    assert outcomes[0][1] == "rate_limited"  # whatever call came first was told to wait
    assert ("download", "expired") in outcomes
    assert outcomes[-1] == ("download", "ok")
    assert sum(c["cost"] or 0 for c in calls) > 0


async def test_a_moderation_refusal_reaches_the_client_as_a_clear_message(
    services: Services, client: LumiClient, aiohttp_server: AiohttpServer
) -> None:
    emulation = await start("meshy", services, aiohttp_server)
    emulation.script.refuse = True
    watch, chosen = await model_of(client, "a figurine")
    failed = await watch.until(status_is("MODEL_FAILED"), failed=frozenset())
    assert failed["model"]["errorMessage"] == said(REFUSED_MESSAGE)
    assert failed["errorMessage"] == said(REFUSED_MESSAGE)
    assert failed["model"]["generationJob"]["status"] == "FAILED"
    calls = await calls_of(services, chosen["task"]["id"])
    assert [(c["operation"], c["outcome"]) for c in calls if c["stage"] == "model"] == [
        ("submit", "refused")
    ]
