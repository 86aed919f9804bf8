"""The slice worker's real `run()` in burst mode, with the real PrusaSlicer (or a stand-in that
misbehaves), on the real database and Redis, behind the real API routes: a model becomes G-code
served at `gcodeUrl`; what cannot be sliced fails with a message in the reader's language (the
slicer's own words stay in the dead letter) and a dead letter that an operator can replay; a
slicer that hangs is killed at the time limit, leaving nothing behind."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trimesh
from PIL import Image
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import IssuedToken
from lumi_common.db.tables import Model, OutboxEvent, SliceJob
from lumi_common.i18n import negotiate
from lumi_common.storage import LocalStorage
from lumi_common.streams.names import stream_key
from lumi_slice_worker.service import run
from lumi_slice_worker.settings import SliceWorkerSettings
from lumi_slice_worker.slicer import TEMP_PREFIX
from tests.support.api import Client
from tests.support.cli import cli_env, lumi
from tests.support.gallery import auth, completed_model
from tests.support.pipeline import relay_all, stream_entries
from tests.support.slicer import (
    HANGING,
    alive,
    box_stl,
    fake_slicer,
    flat_stl,
    hanging_pids,
    real_slicer,
)

pytestmark = pytest.mark.usefixtures("empty_outbox")
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def worker_settings(
    database_url: str, redis_url: str, key_prefix: str, tmp_path: Path
) -> SliceWorkerSettings:
    (tmp_path / "work").mkdir()
    return SliceWorkerSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_key_prefix=key_prefix,
        storage_dir=tmp_path / "storage",  # the API's (settings_factory)
        app_env="test",
        log_format="json",
        slicer_binary="prusa-slicer",
        slice_work_dir=tmp_path / "work",
        job_max_attempts=2,
        job_retry_base_seconds=0.01,
        job_retry_max_seconds=0.05,
    )


async def model_with_stl(
    client: Client, token: IssuedToken, sessionmaker: Sessions, storage: Path, stl: bytes
) -> str:
    """A completed model whose print STL is `stl`, its size on the row as the model stage
    writes it."""
    model = await completed_model(client, token, sessionmaker)
    await store_stl(sessionmaker, storage, model["id"], stl)
    return str(model["id"])


async def store_stl(sessionmaker: Sessions, storage: Path, model_id: str, stl: bytes) -> None:
    extents = trimesh.load_mesh(trimesh.util.wrap_as_stream(stl), file_type="stl").extents
    async with sessionmaker.begin() as session:
        model = await session.get_one(Model, model_id)
        assert model.stl_key is not None
        await LocalStorage(storage).put(model.stl_key, stl, "model/stl")
        model.size_x_mm, model.size_y_mm, model.size_z_mm = (float(v) for v in extents)


async def request_slice(client: Client, token: IssuedToken, model_id: str) -> str:
    response = await client.post("/api/slices", json={"modelId": model_id}, headers=auth(token))
    assert response.status == 201, await response.text()
    return str((await response.json())["data"]["sliceTaskId"])


async def slice_status(
    client: Client, token: IssuedToken, slice_id: str, *, language: str | None = None
) -> Any:
    """The slice as `GET /api/slices/:id` shows it, in `language` (`Accept-Language`) if given."""
    headers = auth(token) | ({"Accept-Language": language} if language else {})
    response = await client.get(f"/api/slices/{slice_id}", headers=headers)
    assert response.status == 200, await response.text()
    data = (await response.json())["data"]
    if data["errorMessage"] is not None:  # a sentence in the reader's language
        assert response.headers["Content-Language"] == negotiate(language, "zh-CN")
        assert "Accept-Language" in response.headers.getall("Vary", [])
    return data


async def work(settings: SliceWorkerSettings, sessionmaker: Sessions, redis: Redis) -> None:
    """Relay and slice until nothing is due (retries are delayed events: a few rounds)."""
    prefix = settings.redis_key_prefix
    for _ in range(20):
        await relay_all(sessionmaker, redis, prefix)
        await run(settings, burst=True)
        async with sessionmaker() as session:
            due = await session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
            )
        if not due:
            return
    raise AssertionError("slice jobs still due after 20 rounds")


async def test_a_model_becomes_gcode_served_at_its_url(
    client: Client,
    alice: IssuedToken,
    sessionmaker: Sessions,
    redis: Redis,
    worker_settings: SliceWorkerSettings,
    tmp_path: Path,
) -> None:
    real_slicer()
    model_id = await model_with_stl(
        client, alice, sessionmaker, tmp_path / "storage", box_stl((30, 20, 8))
    )
    slice_id = await request_slice(client, alice, model_id)
    assert (await slice_status(client, alice, slice_id))["sliceStatus"] == "PENDING"

    await work(worker_settings, sessionmaker, redis)

    done = await slice_status(client, alice, slice_id)
    assert done["sliceStatus"] == "COMPLETED", done
    assert done["errorMessage"] is None
    metadata = done["gcodeMetadata"]
    assert metadata["layerCount"] == 40  # 8 mm at 0.2 mm
    assert metadata["printTimeSeconds"] > 0
    assert metadata["filamentLengthMm"] > 0
    assert metadata["filamentWeightG"] > 0
    assert metadata["profile"] == "generic-pla-0.20mm"
    assert metadata["sizeMm"] == pytest.approx([30, 20, 8])
    assert metadata["fittedToBed"] is False
    url = urlsplit(done["gcodeUrl"])  # with its query: a signed URL's signature
    served = await client.get(f"{url.path}?{url.query}" if url.query else url.path)
    assert served.status == 200
    assert served.content_type == "text/x-gcode"
    gcode = await served.text()
    assert len(gcode.encode()) == done["gcodeSize"]
    assert "\nG1 X" in gcode
    assert gcode.count(";LAYER_CHANGE") == 40

    detail = await client.get(f"/api/gallery/models/{model_id}", headers=auth(alice))
    shown = (await detail.json())["data"]
    assert (shown["sliceTaskId"], shown["sliceStatus"]) == (slice_id, "COMPLETED")
    assert urlsplit(shown["gcodeUrl"]).path == url.path
    async with sessionmaker() as session:
        model = await session.get_one(Model, model_id)
    assert model.print_status == "SLICE_COMPLETE"
    assert not any((tmp_path / "work").iterdir()), "every temporary directory is removed"


async def test_a_model_larger_than_the_bed_is_shrunk_to_fit(
    client: Client,
    alice: IssuedToken,
    sessionmaker: Sessions,
    redis: Redis,
    worker_settings: SliceWorkerSettings,
    tmp_path: Path,
) -> None:
    real_slicer()
    model_id = await model_with_stl(
        client, alice, sessionmaker, tmp_path / "storage", box_stl((400, 100, 4))
    )
    slice_id = await request_slice(client, alice, model_id)
    await work(worker_settings, sessionmaker, redis)
    done = await slice_status(client, alice, slice_id)
    assert done["sliceStatus"] == "COMPLETED", done
    metadata = done["gcodeMetadata"]
    assert metadata["fittedToBed"] is True
    assert metadata["sizeMm"][0] == pytest.approx(200)  # 220 mm bed, 10 mm margins
    assert metadata["scale"] == pytest.approx(0.5)


async def test_a_degenerate_mesh_fails_with_a_message_and_its_replay_slices_it(
    client: Client,
    alice: IssuedToken,
    sessionmaker: Sessions,
    redis: Redis,
    worker_settings: SliceWorkerSettings,
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    key_prefix: str,
) -> None:
    real_slicer()
    storage = tmp_path / "storage"
    model_id = await model_with_stl(client, alice, sessionmaker, storage, flat_stl())
    slice_id = await request_slice(client, alice, model_id)
    await work(worker_settings, sessionmaker, redis)

    failed = await slice_status(client, alice, slice_id, language="en")
    assert failed["sliceStatus"] == "FAILED"
    assert failed["errorMessage"].startswith("this model cannot be sliced: the model is flat")
    assert failed["errorMessage"].endswith("it has no volume to print")
    assert failed["gcodeUrl"] is None
    # the apps send no Accept-Language: the default language, the reason in it too
    chinese = (await slice_status(client, alice, slice_id))["errorMessage"]
    assert chinese.startswith("无法切片此模型：模型是平的（尺寸为 ")
    assert chinese.endswith(" 毫米），没有可打印的体积"), chinese
    detail = await client.get(f"/api/gallery/models/{model_id}", headers=auth(alice))
    assert (await detail.json())["data"]["sliceStatus"] == "FAILED"
    # retrying cannot help: one attempt, then the dead letter (relayed by `work`)
    [(_, letter)] = await stream_entries(redis, stream_key(key_prefix, "slice-jobs:dlq"))
    assert b'"permanent_error"' in letter[b"data"]
    assert b'"SLICE_MODEL_UNPRINTABLE"' in letter[b"data"]
    assert b"this model cannot be sliced: the model is flat" in letter[b"data"]  # operators'
    assert slice_id.encode() in letter[b"data"]
    async with sessionmaker() as session:  # the job row keeps the raw error for operators
        job = await session.get(SliceJob, slice_id)
    assert job is not None
    assert job.client_error is not None
    assert (job.error_message or "").startswith("this model cannot be sliced: the model is flat")

    # the operator fixes the model's file, then replays the letter
    await store_stl(sessionmaker, storage, model_id, box_stl((10, 10, 4)))
    env = cli_env(database_url=database_url, redis_url=redis_url, key_prefix=key_prefix)
    replayed = await lumi(env, "dlq", "replay", "--stream", "slice", "--all")
    assert replayed.returncode == 0, replayed.stderr
    again = await slice_status(client, alice, slice_id)
    assert (again["sliceStatus"], again["errorMessage"]) == ("PENDING", None)
    detail = await client.get(f"/api/gallery/models/{model_id}", headers=auth(alice))
    assert (await detail.json())["data"]["sliceStatus"] == "PROCESSING"
    async with sessionmaker() as session:
        job = await session.get(SliceJob, slice_id)
    assert job is not None
    assert job.client_error is None

    await work(worker_settings, sessionmaker, redis)
    done = await slice_status(client, alice, slice_id)
    assert done["sliceStatus"] == "COMPLETED", done
    assert done["gcodeMetadata"]["layerCount"] == 20
    assert await stream_entries(redis, stream_key(key_prefix, "slice-jobs:dlq")) == []


async def test_a_hanging_slicer_is_killed_at_the_time_limit_then_dead_lettered(
    client: Client,
    alice: IssuedToken,
    sessionmaker: Sessions,
    redis: Redis,
    worker_settings: SliceWorkerSettings,
    tmp_path: Path,
    key_prefix: str,
) -> None:
    fakes = tmp_path / "bin"
    binary = fake_slicer(fakes, HANGING)
    settings = worker_settings.model_copy(
        update={"slicer_binary": str(binary), "slice_timeout_seconds": 4.0}
    )
    model_id = await model_with_stl(
        client, alice, sessionmaker, tmp_path / "storage", box_stl((10, 10, 4))
    )
    slice_id = await request_slice(client, alice, model_id)
    await work(settings, sessionmaker, redis)

    failed = await slice_status(client, alice, slice_id, language="en-GB,zh;q=0.5")
    assert failed["sliceStatus"] == "FAILED"
    assert failed["errorMessage"] == "the slicer did not finish within 4 s and was stopped"
    chinese = await slice_status(client, alice, slice_id, language="zh-CN")
    assert chinese["errorMessage"] == "切片软件未能在 4 秒内完成，已被停止"
    [(_, letter)] = await stream_entries(redis, stream_key(key_prefix, "slice-jobs:dlq"))
    assert b'"attempts_exhausted"' in letter[b"data"]
    assert b'"SLICER_TIMED_OUT"' in letter[b"data"]
    assert b'"attempts":2' in letter[b"data"]
    assert not any(alive(pid) for pid in hanging_pids(fakes)), "the slicer and its child"
    assert not [p for p in (tmp_path / "work").iterdir() if p.name.startswith(TEMP_PREFIX)]


async def test_a_model_without_a_print_stl_is_sliced_from_its_obj(
    client: Client,
    alice: IssuedToken,
    sessionmaker: Sessions,
    redis: Redis,
    worker_settings: SliceWorkerSettings,
    tmp_path: Path,
) -> None:
    """Models made before the model stage wrote print STLs: the viewer OBJ (Y up, unit-sized)
    is turned upright and scaled to the default size."""
    real_slicer()
    model = await completed_model(client, alice, sessionmaker)
    obj = trimesh.creation.box(extents=(1.0, 0.25, 0.5)).export(file_type="obj")
    async with sessionmaker.begin() as session:
        row = await session.get_one(Model, model["id"])
        assert row.model_key is not None
        await LocalStorage(tmp_path / "storage").put(row.model_key, obj.encode(), "text/plain")
        row.stl_key = row.size_x_mm = row.size_y_mm = row.size_z_mm = None
    slice_id = await request_slice(client, alice, model["id"])
    await work(worker_settings, sessionmaker, redis)
    done = await slice_status(client, alice, slice_id)
    assert done["sliceStatus"] == "COMPLETED", done
    # 1 × 0.25 × 0.5 (Y up) → 100 × 50 × 25 mm (Z up)
    assert done["gcodeMetadata"]["sizeMm"] == pytest.approx([100, 50, 25])
    assert done["gcodeMetadata"]["layerCount"] == 125


async def test_a_thumbnail_the_slicer_writes_is_stored_and_served(
    client: Client,
    alice: IssuedToken,
    sessionmaker: Sessions,
    redis: Redis,
    worker_settings: SliceWorkerSettings,
    tmp_path: Path,
) -> None:
    """PrusaSlicer renders previews only with an OpenGL context, which the headless worker has
    not: a slicer that does write one (a stand-in here) gets it stored and served."""
    picture = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(picture, format="PNG")
    encoded = base64.b64encode(picture.getvalue()).decode()
    gcode = [
        "; generated by PrusaSlicer 2.9.0+stand-in",
        f"; thumbnail begin 16x16 {len(encoded)}",
        f"; {encoded}",
        "; thumbnail end",
        ";LAYER_CHANGE",
        ";Z:0.2",
        "G1 X10 Y10 E1.5",
        "; estimated printing time (normal mode) = 1m 2s",
    ]
    text = "\n".join(gcode) + "\n"
    binary = fake_slicer(
        tmp_path / "bin",
        f"""
        out = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--output="))
        with open(out, "w") as f:
            f.write({text!r})
        """,
    )
    settings = worker_settings.model_copy(update={"slicer_binary": str(binary)})
    model_id = await model_with_stl(
        client, alice, sessionmaker, tmp_path / "storage", box_stl((10, 10, 4))
    )
    slice_id = await request_slice(client, alice, model_id)
    await work(settings, sessionmaker, redis)
    done = await slice_status(client, alice, slice_id)
    assert done["sliceStatus"] == "COMPLETED", done
    assert done["gcodeMetadata"]["printTimeSeconds"] == 62
    url = urlsplit(done["thumbnailUrl"])
    served = await client.get(f"{url.path}?{url.query}" if url.query else url.path)
    assert (served.status, served.content_type) == (200, "image/png")
    assert await served.read() == picture.getvalue()
