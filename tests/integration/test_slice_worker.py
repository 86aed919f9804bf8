"""The slice worker's real `run()` in burst mode, with the real PrusaSlicer (or a stand-in that
misbehaves), on the real database and Redis, behind the real API routes: a model becomes G-code
served at `gcodeUrl`; what cannot be sliced fails with a message in the reader's language (the
slicer's own words stay in the dead letter) and a dead letter that an operator can replay; a
slicer that hangs is killed at the time limit, leaving nothing behind."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trimesh
from PIL import Image
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import IssuedToken
from lumi_common.db.tables import Model, SliceJob
from lumi_common.i18n import negotiate
from lumi_common.storage import LocalStorage
from lumi_common.streams.names import stream_key
from lumi_slice_worker.service import run
from lumi_slice_worker.settings import SliceWorkerSettings
from lumi_slice_worker.slicer import TEMP_PREFIX
from tests.support.api import Client
from tests.support.cli import cli_env, lumi
from tests.support.gallery import auth, completed_model
from tests.support.pipeline import relay_all, stream_entries, unpublished
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


@dataclass(frozen=True)
class Slicing:
    """What every test here arranges: the API as alice, the worker's settings, its storage."""

    client: Client
    alice: IssuedToken
    sessionmaker: Sessions
    redis: Redis
    settings: SliceWorkerSettings
    storage: Path

    async def model_with_stl(self, stl: bytes) -> str:
        """A completed model whose print STL is `stl`, its size on the row as the model stage
        writes it."""
        model = await completed_model(self.client, self.alice, self.sessionmaker)
        await self.store_stl(model["id"], stl)
        return str(model["id"])

    async def store_stl(self, model_id: str, stl: bytes) -> None:
        extents = trimesh.load_mesh(trimesh.util.wrap_as_stream(stl), file_type="stl").extents
        async with self.sessionmaker.begin() as session:
            model = await session.get_one(Model, model_id)
            assert model.stl_key is not None
            await LocalStorage(self.storage).put(model.stl_key, stl, "model/stl")
            model.size_x_mm, model.size_y_mm, model.size_z_mm = (float(v) for v in extents)

    async def request(self, model_id: str) -> str:
        response = await self.client.post(
            "/api/slices", json={"modelId": model_id}, headers=auth(self.alice)
        )
        assert response.status == 201, await response.text()
        return str((await response.json())["data"]["sliceTaskId"])

    async def status(self, slice_id: str, *, language: str | None = None) -> Any:
        """The slice as `GET /api/slices/:id` shows it, in `language` (`Accept-Language`)."""
        headers = auth(self.alice) | ({"Accept-Language": language} if language else {})
        response = await self.client.get(f"/api/slices/{slice_id}", headers=headers)
        assert response.status == 200, await response.text()
        data = (await response.json())["data"]
        if data["errorMessage"] is not None:  # a sentence in the reader's language
            assert response.headers["Content-Language"] == negotiate(language, "zh-CN")
            assert "Accept-Language" in response.headers.getall("Vary", [])
        return data

    async def work(self, settings: SliceWorkerSettings | None = None) -> None:
        """Relay and slice until nothing is due (retries are delayed events: a few rounds)."""
        settings = settings or self.settings
        for _ in range(20):
            await relay_all(self.sessionmaker, self.redis, settings.redis_key_prefix)
            await run(settings, burst=True)
            if not await unpublished(self.sessionmaker):
                return
        raise AssertionError("slice jobs still due after 20 rounds")

    async def sliced(self, stl: bytes, settings: SliceWorkerSettings | None = None) -> Any:
        """A model of `stl`, its slice requested and worked on: the slice's status."""
        slice_id = await self.request(await self.model_with_stl(stl))
        await self.work(settings)
        return await self.status(slice_id)


@pytest.fixture
def slicing(
    client: Client,
    alice: IssuedToken,
    sessionmaker: Sessions,
    redis: Redis,
    worker_settings: SliceWorkerSettings,
    tmp_path: Path,
) -> Slicing:
    return Slicing(client, alice, sessionmaker, redis, worker_settings, tmp_path / "storage")


async def test_a_model_becomes_gcode_served_at_its_url(slicing: Slicing, tmp_path: Path) -> None:
    real_slicer()
    client, alice = slicing.client, slicing.alice
    model_id = await slicing.model_with_stl(box_stl((30, 20, 8)))
    slice_id = await slicing.request(model_id)
    assert (await slicing.status(slice_id))["sliceStatus"] == "PENDING"

    await slicing.work()

    done = await slicing.status(slice_id)
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
    async with slicing.sessionmaker() as session:
        model = await session.get_one(Model, model_id)
    assert model.print_status == "SLICE_COMPLETE"
    assert not any((tmp_path / "work").iterdir()), "every temporary directory is removed"


async def test_a_model_larger_than_the_bed_is_shrunk_to_fit(slicing: Slicing) -> None:
    real_slicer()
    done = await slicing.sliced(box_stl((400, 100, 4)))
    assert done["sliceStatus"] == "COMPLETED", done
    metadata = done["gcodeMetadata"]
    assert metadata["fittedToBed"] is True
    assert metadata["sizeMm"][0] == pytest.approx(200)  # 220 mm bed, 10 mm margins
    assert metadata["scale"] == pytest.approx(0.5)


async def test_a_degenerate_mesh_fails_with_a_message_and_its_replay_slices_it(
    slicing: Slicing, database_url: str, redis_url: str, key_prefix: str
) -> None:
    real_slicer()
    client, alice, redis = slicing.client, slicing.alice, slicing.redis
    model_id = await slicing.model_with_stl(flat_stl())
    slice_id = await slicing.request(model_id)
    await slicing.work()

    failed = await slicing.status(slice_id, language="en")
    assert failed["sliceStatus"] == "FAILED"
    assert failed["errorMessage"].startswith("this model cannot be sliced: the model is flat")
    assert failed["errorMessage"].endswith("it has no volume to print")
    assert failed["gcodeUrl"] is None
    # the apps send no Accept-Language: the default language, the reason in it too
    chinese = (await slicing.status(slice_id))["errorMessage"]
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
    async with slicing.sessionmaker() as session:  # the job row keeps the raw error too
        job = await session.get(SliceJob, slice_id)
    assert job is not None
    assert job.client_error is not None
    assert (job.error_message or "").startswith("this model cannot be sliced: the model is flat")

    # the operator fixes the model's file, then replays the letter
    await slicing.store_stl(model_id, box_stl((10, 10, 4)))
    env = cli_env(database_url=database_url, redis_url=redis_url, key_prefix=key_prefix)
    replayed = await lumi(env, "dlq", "replay", "--stream", "slice", "--all")
    assert replayed.returncode == 0, replayed.stderr
    again = await slicing.status(slice_id)
    assert (again["sliceStatus"], again["errorMessage"]) == ("PENDING", None)
    detail = await client.get(f"/api/gallery/models/{model_id}", headers=auth(alice))
    assert (await detail.json())["data"]["sliceStatus"] == "PROCESSING"
    async with slicing.sessionmaker() as session:
        job = await session.get(SliceJob, slice_id)
    assert job is not None
    assert job.client_error is None

    await slicing.work()
    done = await slicing.status(slice_id)
    assert done["sliceStatus"] == "COMPLETED", done
    assert done["gcodeMetadata"]["layerCount"] == 20
    assert await stream_entries(redis, stream_key(key_prefix, "slice-jobs:dlq")) == []


async def test_a_hanging_slicer_is_killed_at_the_time_limit_then_dead_lettered(
    slicing: Slicing, tmp_path: Path, key_prefix: str
) -> None:
    fakes = tmp_path / "bin"
    binary = fake_slicer(fakes, HANGING)
    settings = slicing.settings.model_copy(
        update={"slicer_binary": str(binary), "slice_timeout_seconds": 4.0}
    )
    slice_id = await slicing.request(await slicing.model_with_stl(box_stl((10, 10, 4))))
    await slicing.work(settings)

    failed = await slicing.status(slice_id, language="en-GB,zh;q=0.5")
    assert failed["sliceStatus"] == "FAILED"
    assert failed["errorMessage"] == "the slicer did not finish within 4 s and was stopped"
    chinese = await slicing.status(slice_id, language="zh-CN")
    assert chinese["errorMessage"] == "切片软件未能在 4 秒内完成，已被停止"
    [(_, letter)] = await stream_entries(slicing.redis, stream_key(key_prefix, "slice-jobs:dlq"))
    assert b'"attempts_exhausted"' in letter[b"data"]
    assert b'"SLICER_TIMED_OUT"' in letter[b"data"]
    assert b'"attempts":2' in letter[b"data"]
    assert not any(alive(pid) for pid in hanging_pids(fakes)), "the slicer and its child"
    assert not [p for p in (tmp_path / "work").iterdir() if p.name.startswith(TEMP_PREFIX)]


async def test_a_model_without_a_print_stl_is_sliced_from_its_obj(slicing: Slicing) -> None:
    """Models made before the model stage wrote print STLs: the viewer OBJ (Y up, unit-sized)
    is turned upright and scaled to the default size."""
    real_slicer()
    model = await completed_model(slicing.client, slicing.alice, slicing.sessionmaker)
    obj = trimesh.creation.box(extents=(1.0, 0.25, 0.5)).export(file_type="obj")
    async with slicing.sessionmaker.begin() as session:
        row = await session.get_one(Model, model["id"])
        assert row.model_key is not None
        await LocalStorage(slicing.storage).put(row.model_key, obj.encode(), "text/plain")
        row.stl_key = row.size_x_mm = row.size_y_mm = row.size_z_mm = None
    slice_id = await slicing.request(model["id"])
    await slicing.work()
    done = await slicing.status(slice_id)
    assert done["sliceStatus"] == "COMPLETED", done
    # 1 × 0.25 × 0.5 (Y up) → 100 × 50 × 25 mm (Z up)
    assert done["gcodeMetadata"]["sizeMm"] == pytest.approx([100, 50, 25])
    assert done["gcodeMetadata"]["layerCount"] == 125


async def test_a_thumbnail_the_slicer_writes_is_stored_and_served(
    slicing: Slicing, tmp_path: Path
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
    settings = slicing.settings.model_copy(update={"slicer_binary": str(binary)})
    done = await slicing.sliced(box_stl((10, 10, 4)), settings)
    assert done["sliceStatus"] == "COMPLETED", done
    assert done["gcodeMetadata"]["printTimeSeconds"] == 62
    url = urlsplit(done["thumbnailUrl"])
    served = await slicing.client.get(f"{url.path}?{url.query}" if url.query else url.path)
    assert (served.status, served.content_type) == (200, "image/png")
    assert await served.read() == picture.getvalue()
