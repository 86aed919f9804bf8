"""`make run` really works: `lumi dev` on its embedded defaults takes a prompt to a model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support import backends
from tests.support.api import unique_email
from tests.support.lumi_client import LumiClient, TaskWatch, status_is
from tests.support.processes import clean_env, free_port
from tests.support.services import Services, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Services]:
    """A fresh checkout's view: an empty working directory, no DATABASE_URL or REDIS_URL."""
    env = clean_env(PORT=str(free_port()), LOG_FORMAT="json", MODEL_POLL_INTERVAL_SECONDS="0.2")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    running = Services(tmp_path / "logs", env, cwd=checkout)
    yield running
    running.close()


async def test_lumi_dev_takes_a_prompt_to_a_printable_model(dev: Services) -> None:
    system = dev.spawn("lumi", "dev")
    await wait_ready(system, f"{dev.base_url}/api/health")
    token = await dev.token(unique_email("dev"))  # same directory: the same SQLite file
    async with aiohttp.ClientSession() as session:
        client = LumiClient(session, dev.base_url, token)
        created = await client.create_task("a small lighthouse")
        ready = await client.watch(created).until(status_is("IMAGE_COMPLETED"))
        assert [image["imageStatus"] for image in ready["images"]] == ["COMPLETED"] * 4
        for image in ready["images"]:
            picture = await client.download(image["imageUrl"])
            assert (picture.status, picture.content_type) == (200, "image/png")

        chosen = await client.select_image(created["id"], 0)
        watch = TaskWatch(client, created["id"], since=chosen["task"]["updatedAt"])
        done = await watch.until(lambda task: (task["status"], task["phase"]) == ("COMPLETED",) * 2)
        model = done["model"]
        assert model["generationJob"]["progress"] == 100
        for field in ("modelUrl", "mtlUrl", "textureUrl", "glbUrl"):
            assert (await client.download(model[field])).status == 200, field
        if shutil.which("prusa-slicer") is not None or backends.required():  # required in CI
            sliced = await client.until_sliced(
                (await client.print_task(created["id"]))["sliceTaskId"]
            )
            assert sliced["sliceStatus"] == "COMPLETED", sliced
            assert (await client.download(sliced["gcodeUrl"])).status == 200

    assert system.stop() == 0, system.tail()
    assert "a service exited" not in "\n".join(system.lines())  # a stop is not a crash
    checkout = dev.cwd
    assert checkout is not None
    assert (checkout / ".lumi" / "lumi.db").is_file()
    assert (checkout / ".lumi" / "storage" / "images" / created["id"] / "0.png").is_file()
