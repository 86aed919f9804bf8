"""Slicing end to end: `lumi-api`, the image, model and slice workers as real processes on the real
database and Redis, driven over HTTP as the web app drives its slice and print buttons; the real
PrusaSlicer, or a stand-in on `PATH` that hangs."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.lumi_client import LumiClient, TaskWatch, status_is
from tests.support.services import Services
from tests.support.slicer import alive, fake_slicer, hanging_pids, real_slicer, with_path

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
IMAGE_WORKER, MODEL_WORKER = "lumi-image-worker", "lumi-model-worker"
SLICE_WORKER = "lumi-slice-worker"

# like tests.support.slicer.HANGING, but every start adds its pids (a job runs several attempts)
HANGING_EACH_TIME = """
    out = os.path.dirname(os.path.abspath(__file__))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(os.path.join(out, "pids"), "a") as pids:
        pids.write(f"{os.getpid()} {child.pid}\\n")
    time.sleep(600)
"""


async def slice_in_english(client: LumiClient, slice_id: str) -> dict[str, Any]:
    """`GET /api/slices/:id` as an English reader (the support client sends no language)."""
    headers = {**client.headers, "Accept-Language": "en-US,en;q=0.9,zh;q=0.1"}
    url = f"{client.base_url}/api/slices/{slice_id}"
    async with client.session.get(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Language"] == "en"
        data: dict[str, Any] = (await response.json())["data"]
    return data


async def printable_model(services: Services, client: LumiClient, prompt: str) -> dict[str, Any]:
    """A task taken to a completed model by the real image and model workers."""
    await services.start_worker(IMAGE_WORKER, IMAGE_QUEUE_CONCURRENCY="4")
    await services.start_worker(MODEL_WORKER)
    created = await client.create_task(prompt)
    await client.watch(created).until(status_is("IMAGE_COMPLETED"))
    chosen = await client.select_image(created["id"], 0)
    watch = TaskWatch(client, created["id"], since=chosen["task"]["updatedAt"])
    return await watch.until(lambda task: (task["status"], task["phase"]) == ("COMPLETED",) * 2)


async def check_gcode(client: LumiClient, sliced: dict[str, Any]) -> str:
    """What a printer needs and the web app shows: moves, layers, a time, at `gcodeUrl`."""
    assert sliced["sliceStatus"] == "COMPLETED", sliced
    metadata = sliced["gcodeMetadata"]
    assert metadata["layerCount"] > 0
    assert metadata["printTimeSeconds"] > 0
    assert metadata["printTime"]
    assert metadata["filamentWeightG"] > 0
    download = await client.download(sliced["gcodeUrl"])
    assert download.status == 200
    assert download.content_type.startswith("text/x-gcode")
    gcode = download.body.decode()
    assert len(download.body) == sliced["gcodeSize"]
    assert "\nG1 X" in gcode
    assert gcode.count(";LAYER_CHANGE") == metadata["layerCount"]
    return gcode


def temp_dirs(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if path.name.startswith("lumi-slice-")]


async def test_the_slice_and_print_buttons_turn_a_prompt_into_gcode(
    services: Services, client: LumiClient
) -> None:
    real_slicer()
    task = await printable_model(services, client, "a small lighthouse")
    model = task["model"]
    assert (model["sliceTaskId"], model["printStatus"]) == (None, "NOT_STARTED")
    await services.start_worker(SLICE_WORKER)

    started = await client.slice(model["id"])
    assert (started["modelId"], started["sliceStatus"]) == (model["id"], "PROCESSING")
    sliced = await client.until_sliced(started["sliceTaskId"])
    await check_gcode(client, sliced)
    assert sliced["gcodeMetadata"]["fittedToBed"] is False  # the relief fits as it is
    shown = (await client.task(task["id"]))["model"]
    assert (shown["sliceTaskId"], shown["sliceStatus"]) == (started["sliceTaskId"], "COMPLETED")
    assert shown["printStatus"] == "SLICE_COMPLETE"
    assert urlsplit(shown["gcodeUrl"]).path == urlsplit(sliced["gcodeUrl"]).path

    # the one-click print slices the task's model again, replacing the finished slice
    printed = await client.print_task(task["id"])
    assert printed["sliceTaskId"] != started["sliceTaskId"]
    again = await client.until_sliced(printed["sliceTaskId"])
    await check_gcode(client, again)
    assert urlsplit(again["gcodeUrl"]).path != urlsplit(sliced["gcodeUrl"]).path
    assert (await client.download(sliced["gcodeUrl"])).status == 404  # its files went with it


async def test_a_hanging_slicer_on_path_is_killed_then_dead_lettered_and_replayed(
    services: Services, client: LumiClient, tmp_path: Path
) -> None:
    real_slicer()
    task = await printable_model(services, client, "a teapot")
    fakes, work = tmp_path / "fake-bin", tmp_path / "work"
    fake_slicer(fakes, HANGING_EACH_TIME)
    work.mkdir()
    # long enough for the stand-in to start and write its pids on a loaded machine
    settings = {"SLICE_TIMEOUT_SECONDS": "4", "JOB_MAX_ATTEMPTS": "2", "SLICE_WORK_DIR": str(work)}
    hanging = await services.start_worker(SLICE_WORKER, **settings, PATH=with_path(fakes)["PATH"])

    started = await client.print_task(task["id"])
    failed = await client.until_sliced(started["sliceTaskId"], within=60)
    assert failed["sliceStatus"] == "FAILED"
    # the apps send no Accept-Language: the default language (zh-CN); an API client asks
    assert failed["errorMessage"] == "切片软件未能在 4 秒内完成，已被停止"
    english = await slice_in_english(client, started["sliceTaskId"])
    assert english["errorMessage"] == "the slicer did not finish within 4 s and was stopped"
    pids = hanging_pids(fakes)
    assert len(pids) == 4, "two attempts, each a slicer and its child"
    assert not any(alive(pid) for pid in pids)
    assert temp_dirs(work) == []
    listed = await services.cli("dlq", "list", "--stream", "slice", "--json")
    assert listed.returncode == 0, listed.stderr
    [letter] = json.loads(listed.stdout)
    assert letter["job_id"] == started["sliceTaskId"]
    assert letter["reason"] == "attempts_exhausted"
    # operators read the raw error (English)
    assert letter["error"] == "the slicer did not finish within 4 s and was stopped"

    # the operator fixes the worker (the real slicer), then replays
    assert hanging.stop() == 0
    await services.start_worker(SLICE_WORKER, SLICE_WORK_DIR=str(work))
    replayed = await services.cli("dlq", "replay", "--stream", "slice", "--all")
    assert replayed.returncode == 0, replayed.stderr
    await check_gcode(client, await client.until_sliced(started["sliceTaskId"]))
    assert temp_dirs(work) == []


async def test_sigterm_during_a_slice_leaves_the_job_to_another_worker(
    services: Services, client: LumiClient, tmp_path: Path
) -> None:
    real_slicer()
    task = await printable_model(services, client, "a small boat")
    fakes, work = tmp_path / "fake-bin", tmp_path / "work"
    fake_slicer(fakes, HANGING_EACH_TIME)
    work.mkdir()
    stopping = await services.start_worker(
        SLICE_WORKER,
        SHUTDOWN_GRACE_SECONDS="1",
        SLICE_WORK_DIR=str(work),
        PATH=with_path(fakes)["PATH"],
    )
    started = await client.slice(task["model"]["id"])
    await wait_for_file(fakes / "pids")

    assert stopping.stop(timeout=15) == 0  # SIGTERM: one second of grace, then the slice stops
    assert not any(alive(pid) for pid in hanging_pids(fakes))
    assert temp_dirs(work) == []
    assert (await client.slice_task(started["sliceTaskId"]))["sliceStatus"] == "PROCESSING"

    await services.start_worker(SLICE_WORKER, SLICE_WORK_DIR=str(work))
    await check_gcode(client, await client.until_sliced(started["sliceTaskId"], within=90))
    assert len(hanging_pids(fakes)) == 2, "the stopped worker's slice was not started twice"


async def wait_for_file(path: Path, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(path.exists):
        assert time.monotonic() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.05)
