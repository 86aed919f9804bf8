"""Tripo, Meshy and Hunyuan 3D adapters against local emulators of their documented protocols:
the whole state sequence, auth, 429 + Retry-After, moderation, expired results, a slow answer,
a malformed body and a failed task, each mapped to what the job runtime understands."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pytest
import trimesh
from aiohttp import web
from pydantic import SecretStr
from pytest_aiohttp import AiohttpServer

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.calls import CallLog
from lumi_common.providers.downloads import DownloadPolicy
from lumi_common.providers.errors import (
    REFUSED_MESSAGE,
    ContentRefused,
    ProviderFailed,
    RateLimited,
    ResultExpired,
)
from lumi_common.providers.http import BearerApi, Timeouts
from lumi_common.providers.tencent import RATE_LIMIT_WAIT_SECONDS, Credentials, TencentApi
from lumi_model_worker.providers.hosted import HostedMeshGenerator, MeshService, ModelOutput
from lumi_model_worker.providers.hunyuan3d import SERVICE, VERSION, Hunyuan3D
from lumi_model_worker.providers.meshy import Meshy
from lumi_model_worker.providers.model_files import VIEWER_SIZE
from lumi_model_worker.providers.tripo import Tripo
from tests.support import meshy_emulator, tencent_emulator, tripo_emulator
from tests.support.provider_emulation import Emulation, MemoryCalls, png_bytes_of
from tests.support.provider_emulation import Emulator as BaseEmulator

PICTURE = png_bytes_of(128)
TIMEOUTS = Timeouts(connect=2.0, read=1.0, total=5.0)
LOCAL = frozenset({"127.0.0.1"})


class Emulator(BaseEmulator, Protocol):
    images: list[bytes]


@dataclass
class Case:
    name: str
    emulator: Emulator
    generator: HostedMeshGenerator
    recorded: MemoryCalls
    rate_limit_wait: float | None  # None: the Retry-After the emulator sends

    @property
    def emulation(self) -> Emulation:
        return self.emulator.emulation

    @property
    def outcomes(self) -> list[tuple[str, str]]:
        return self.recorded.outcomes


def tripo(url: str, key: str) -> MeshService:
    return Tripo(api=BearerApi(f"{url}/v3", SecretStr(key), TIMEOUTS))


def meshy(url: str, key: str) -> MeshService:
    return Meshy(api=BearerApi(url, SecretStr(key), TIMEOUTS))


def hunyuan3d(url: str, key: str) -> MeshService:
    secret = SecretStr(tencent_emulator.SECRET_KEY)
    credentials = Credentials(secret_id=key, secret_key=secret)
    api = TencentApi(url, SERVICE, VERSION, "ap-guangzhou", credentials, TIMEOUTS)
    return Hunyuan3D(api=api)


@dataclass(frozen=True)
class Provider:
    emulator: Callable[[], Emulator]
    service: Callable[[str, str], MeshService]
    key: str
    rate_limit_wait: float | None = None


PROVIDERS = {
    "tripo": Provider(tripo_emulator.TripoEmulator, tripo, tripo_emulator.KEY),
    "meshy": Provider(meshy_emulator.MeshyEmulator, meshy, meshy_emulator.KEY),
    "hunyuan3d": Provider(
        tencent_emulator.TencentEmulator,
        hunyuan3d,
        tencent_emulator.SECRET_ID,
        RATE_LIMIT_WAIT_SECONDS,
    ),
}


async def case_for(name: str, aiohttp_server: AiohttpServer, *, key: str | None = None) -> Case:
    provider = PROVIDERS[name]
    emulator = provider.emulator()
    server = await aiohttp_server(emulator.app(), host="127.0.0.1")
    emulator.emulation.base_url = str(server.make_url("")).rstrip("/")
    recorded = MemoryCalls()
    policy = DownloadPolicy(
        allowed_hosts=LOCAL,
        http_hosts=LOCAL,
        allow_private=True,
        max_bytes=20_000_000,
        timeouts=TIMEOUTS,
    )
    generator = HostedMeshGenerator(
        provider.service(emulator.emulation.base_url, key or provider.key),
        calls=CallLog((recorded,)),
        downloads=policy,
        output=ModelOutput(print_size_mm=100.0, max_faces=50_000),
    )
    return Case(name, emulator, generator, recorded, provider.rate_limit_wait)


@pytest.fixture(params=sorted(PROVIDERS))
async def case(request: pytest.FixtureRequest, aiohttp_server: AiohttpServer) -> Case:
    return await case_for(request.param, aiohttp_server)


async def until_done(case: Case, task_id: str) -> None:
    for _ in range(10):
        if (await case.generator.poll(task_id)).state == "done":
            return
    raise AssertionError("the task never finished")


async def test_a_signed_url_is_fetched_by_the_providers_that_take_one(
    case: Case, aiohttp_server: AiohttpServer
) -> None:
    """The chosen picture by its signed URL (the model worker passes one on S3, or when the API
    is public): Meshy and Hunyuan 3D download it; Tripo's v3 wants an upload either way."""

    async def picture(_: web.Request) -> web.Response:
        return web.Response(body=PICTURE, content_type="image/png")

    served = web.Application()
    served.router.add_get("/files/picture.png", picture)
    server = await aiohttp_server(served, host="127.0.0.1")
    url = str(server.make_url("/files/picture.png?exp=1&sig=x"))
    task_id = await case.generator.submit(PICTURE, job_key="job-url", image_url=url)
    assert case.emulator.images == [PICTURE]
    assert task_id


async def test_the_whole_state_sequence_ends_in_viewer_files_and_an_stl(case: Case) -> None:
    task_id = await case.generator.submit(PICTURE, job_key="job-1")
    assert case.emulator.images == [PICTURE]  # handed over inline: upload, data URI, base64
    seen = [await case.generator.poll(task_id) for _ in range(3)]
    assert [p.state for p in seen] == ["running", "running", "done"]
    assert [p.progress for p in seen] == sorted(p.progress for p in seen)
    artifacts = await case.generator.fetch(task_id)
    glb = trimesh.load(io.BytesIO(artifacts.glb), file_type="glb", force="mesh")
    assert max(glb.extents) == pytest.approx(VIEWER_SIZE)
    stl = trimesh.load(io.BytesIO(artifacts.stl), file_type="stl", force="mesh")
    assert stl.extents[2] == pytest.approx(100.0)  # the standing figurine stands on the bed
    assert case.outcomes == [
        ("submit", "ok"),
        *[("poll", "ok")] * 3,
        ("fetch", "ok"),
        ("download", "ok"),
    ]
    assert {c.provider for c in case.recorded.calls} == {case.name}
    assert {c.provider_job_id for c in case.recorded.calls} == {task_id}
    fetched = next(c for c in case.recorded.calls if c.operation == "fetch")
    assert (fetched.cost, fetched.cost_unit) in [(30, "credits"), (20, "credits")]


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_a_wrong_key_is_a_permanent_failure(name: str, aiohttp_server: AiohttpServer) -> None:
    case = await case_for(name, aiohttp_server, key="wrong")
    with pytest.raises(PermanentError) as refused:
        await case.generator.submit(PICTURE, job_key="job-1")
    assert not isinstance(refused.value, ContentRefused)
    assert case.outcomes == [("submit", "failed")]


async def test_a_rate_limit_says_when_to_come_back(case: Case) -> None:
    case.emulation.script.rate_limited = 1
    case.emulation.script.retry_after = 7
    with pytest.raises(RateLimited) as limited:
        await case.generator.submit(PICTURE, job_key="job-1")
    assert limited.value.retry_after == (case.rate_limit_wait or 7)
    assert await case.generator.submit(PICTURE, job_key="job-1")  # the next try goes through
    assert case.outcomes == [("submit", "rate_limited"), ("submit", "ok")]


async def test_a_moderation_refusal_is_permanent_with_a_clear_message(case: Case) -> None:
    case.emulation.script.refuse = True

    async def submit_and_poll() -> None:
        task_id = await case.generator.submit(PICTURE, job_key="job-1")
        await until_done(case, task_id)

    with pytest.raises(ContentRefused) as refused:
        await submit_and_poll()
    assert str(refused.value) == REFUSED_MESSAGE.render("en")
    assert refused.value.client_message == REFUSED_MESSAGE
    assert case.outcomes[-1][1] == "refused"


async def test_an_expired_result_url_asks_for_a_new_submission(case: Case) -> None:
    case.emulation.script.expired_downloads = 1
    task_id = await case.generator.submit(PICTURE, job_key="job-1")
    await until_done(case, task_id)
    with pytest.raises(ResultExpired):
        await case.generator.fetch(task_id)
    assert case.outcomes[-1] == ("download", "expired")
    assert (await case.generator.fetch(task_id)).vertex_count > 0  # a fresh URL works


async def test_an_expired_task_asks_for_a_new_submission(case: Case) -> None:
    case.emulation.script.expire_tasks = 1
    task_id = await case.generator.submit(PICTURE, job_key="job-1")
    with pytest.raises(ResultExpired):
        await until_done(case, task_id)
    assert case.outcomes[-1] == ("poll", "expired")


async def test_a_slow_answer_is_retryable(case: Case) -> None:
    case.emulation.script.slow_seconds = 1.5  # past the 1 s read timeout
    with pytest.raises(RetryableError, match="did not answer in time"):
        await case.generator.submit(PICTURE, job_key="job-1")
    assert case.outcomes == [("submit", "retryable_error")]


async def test_a_malformed_body_is_retryable(case: Case) -> None:
    task_id = await case.generator.submit(PICTURE, job_key="job-1")
    case.emulation.script.malformed = 1
    with pytest.raises(RetryableError, match="not JSON"):
        await case.generator.poll(task_id)
    assert (await case.generator.poll(task_id)).state == "running"


async def test_a_failed_task_is_permanent(case: Case) -> None:
    case.emulation.script.fail = True
    task_id = await case.generator.submit(PICTURE, job_key="job-1")
    with pytest.raises(ProviderFailed):
        await until_done(case, task_id)
    assert case.outcomes[-1] == ("poll", "failed")
