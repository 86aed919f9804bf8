"""DashScope and Hunyuan image adapters against local emulators of their documented
asynchronous protocols: the state sequence, auth, rate limits, moderation, an expired picture
URL, a task the provider forgot, a slow and a malformed answer, a failed task."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pytest
from PIL import Image
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
from lumi_image_worker.providers.dashscope import DashScope
from lumi_image_worker.providers.hosted_images import HostedImageGenerator, ImageService
from lumi_image_worker.providers.hunyuan_images import SERVICE, VERSION, HunyuanImages
from tests.support import dashscope_emulator, tencent_emulator
from tests.support.provider_emulation import Emulator as BaseEmulator
from tests.support.provider_emulation import MemoryCalls

TIMEOUTS = Timeouts(connect=2.0, read=1.0, total=5.0)
LOCAL = frozenset({"127.0.0.1"})


class Emulator(BaseEmulator, Protocol):
    prompts: list[str]


def dashscope(url: str, key: str) -> ImageService:
    return DashScope(api=BearerApi(url, SecretStr(key), TIMEOUTS))


def hunyuan(url: str, key: str) -> ImageService:
    credentials = Credentials(secret_id=key, secret_key=SecretStr(tencent_emulator.SECRET_KEY))
    return HunyuanImages(api=TencentApi(url, SERVICE, VERSION, "ap-beijing", credentials, TIMEOUTS))


@dataclass(frozen=True)
class Provider:
    emulator: Callable[[], Emulator]
    service: Callable[[str, str], ImageService]
    key: str
    rate_limit_wait: float | None = None


PROVIDERS = {
    "dashscope": Provider(dashscope_emulator.DashScopeEmulator, dashscope, dashscope_emulator.KEY),
    "hunyuan": Provider(
        tencent_emulator.TencentEmulator,
        hunyuan,
        tencent_emulator.SECRET_ID,
        RATE_LIMIT_WAIT_SECONDS,
    ),
}


@dataclass
class Case:
    name: str
    emulator: Emulator
    generator: HostedImageGenerator
    recorded: MemoryCalls
    rate_limit_wait: float | None

    @property
    def script(self) -> object:
        return self.emulator.emulation.script

    @property
    def outcomes(self) -> list[tuple[str, str]]:
        return self.recorded.outcomes


async def case_for(name: str, aiohttp_server: AiohttpServer, *, key: str | None = None) -> Case:
    provider = PROVIDERS[name]
    emulator = provider.emulator()
    server = await aiohttp_server(emulator.app(), host="127.0.0.1")
    emulator.emulation.base_url = str(server.make_url("")).rstrip("/")
    policy = DownloadPolicy(
        allowed_hosts=LOCAL, http_hosts=LOCAL, allow_private=True, max_bytes=5_000_000
    )
    recorded = MemoryCalls()
    generator = HostedImageGenerator(
        provider.service(emulator.emulation.base_url, key or provider.key),
        calls=CallLog((recorded,)),
        downloads=policy,
    )
    return Case(name, emulator, generator, recorded, provider.rate_limit_wait)


@pytest.fixture(params=sorted(PROVIDERS))
async def case(request: pytest.FixtureRequest, aiohttp_server: AiohttpServer) -> Case:
    return await case_for(request.param, aiohttp_server)


async def test_a_picture_after_the_whole_state_sequence(case: Case) -> None:
    task_id = await case.generator.submit("a small robot", seed=7)
    assert case.emulator.prompts == ["a small robot"]
    polls = [await case.generator.poll(task_id) for _ in range(3)]
    assert [p.state for p in polls] == ["running", "running", "done"]
    image = polls[-1].image
    assert image is not None
    assert (image.content_type, image.provider) == ("image/png", case.name)
    assert Image.open(io.BytesIO(image.data)).size == (256, 256)
    assert case.outcomes == [("submit", "ok"), *[("poll", "ok")] * 3, ("download", "ok")]
    last_poll = [c for c in case.recorded.calls if c.operation == "poll"][-1]
    assert (last_poll.cost, last_poll.cost_unit) == (1.0, "images")


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_a_wrong_key_is_permanent(name: str, aiohttp_server: AiohttpServer) -> None:
    case = await case_for(name, aiohttp_server, key="wrong")
    with pytest.raises(PermanentError) as refused:
        await case.generator.submit("a small robot", seed=7)
    assert not isinstance(refused.value, ContentRefused)


async def test_a_rate_limit_says_when_to_come_back(case: Case) -> None:
    case.emulator.emulation.script.rate_limited = 1
    case.emulator.emulation.script.retry_after = 3
    with pytest.raises(RateLimited) as limited:
        await case.generator.submit("a small robot", seed=7)
    assert limited.value.retry_after == (case.rate_limit_wait or 3)
    assert await case.generator.submit("a small robot", seed=7)


async def test_a_moderation_refusal_is_permanent_with_a_clear_message(case: Case) -> None:
    case.emulator.emulation.script.refuse = True
    with pytest.raises(ContentRefused) as refused:
        await case.generator.submit("something forbidden", seed=7)
    assert str(refused.value) == REFUSED_MESSAGE.render("en")
    assert case.outcomes == [("submit", "refused")]


async def test_an_expired_picture_url_asks_for_a_new_submission(case: Case) -> None:
    case.emulator.emulation.script.expired_downloads = 1
    case.emulator.emulation.script.running_polls = 0
    task_id = await case.generator.submit("a small robot", seed=7)
    with pytest.raises(ResultExpired):
        await case.generator.poll(task_id)
    assert (await case.generator.poll(task_id)).state == "done"


async def test_a_forgotten_task_asks_for_a_new_submission(case: Case) -> None:
    with pytest.raises(ResultExpired):
        await case.generator.poll("no-such-task")


async def test_slow_and_malformed_answers_are_retryable(case: Case) -> None:
    case.emulator.emulation.script.slow_seconds = 1.5
    with pytest.raises(RetryableError, match="did not answer in time"):
        await case.generator.submit("a small robot", seed=7)
    case.emulator.emulation.script.slow_seconds = 0
    case.emulator.emulation.script.malformed = 1
    with pytest.raises(RetryableError, match="not JSON"):
        await case.generator.submit("a small robot", seed=7)


async def test_a_failed_task_is_permanent(case: Case) -> None:
    case.emulator.emulation.script.fail = True
    case.emulator.emulation.script.running_polls = 0
    task_id = await case.generator.submit("a small robot", seed=7)
    with pytest.raises(ProviderFailed):
        await case.generator.poll(task_id)
