"""Image services that work asynchronously (DashScope, Hunyuan): submit a prompt, poll the task
as delayed events (no worker slot held meanwhile), download the picture once it is there.

Each service only speaks its protocol (`ImageService`); sessions, call records and the guarded
download are written here once.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import aiohttp

from lumi_common.providers.calls import CallLog, Tracked
from lumi_common.providers.downloads import DownloadPolicy, download_result
from lumi_image_worker.providers.images import GeneratedImage, sniff_image

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")


@dataclass(frozen=True, slots=True)
class ImageTask:
    state: Literal["running", "done"]
    progress: int = 0
    image_url: str | None = None
    cost: float | None = None
    cost_unit: str | None = None


@dataclass(frozen=True, slots=True)
class ImagePoll:
    state: Literal["running", "done"]
    progress: int = 0
    image: GeneratedImage | None = None


class ImageService(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str | None: ...

    async def submit(
        self, session: aiohttp.ClientSession, prompt: str, seed: int, call: Tracked
    ) -> str: ...

    async def status(
        self, session: aiohttp.ClientSession, task_id: str, call: Tracked
    ) -> ImageTask: ...


@runtime_checkable
class AsyncImageGenerator(Protocol):
    """An image service that takes its time: submit, then poll (no `generate`)."""

    @property
    def name(self) -> str: ...

    async def submit(self, prompt: str, *, seed: int) -> str: ...

    async def poll(self, task_id: str) -> ImagePoll: ...


class HostedImageGenerator:
    def __init__(self, service: ImageService, *, calls: CallLog, downloads: DownloadPolicy) -> None:
        self.service = service
        self.name = service.name
        self._calls = calls
        self._downloads = downloads

    async def submit(self, prompt: str, *, seed: int) -> str:
        async with aiohttp.ClientSession() as session, self._track("submit") as call:
            task_id = await self.service.submit(session, prompt, seed, call)
            call.provider_job_id = task_id
        return task_id

    async def poll(self, task_id: str) -> ImagePoll:
        async with aiohttp.ClientSession() as session, self._track("poll") as call:
            call.provider_job_id = task_id
            task = await self.service.status(session, task_id, call)
            call.cost, call.cost_unit = task.cost, task.cost_unit
        if task.state == "running" or not task.image_url:
            return ImagePoll("running", task.progress)
        data = await self._download(task.image_url, task_id)
        image = GeneratedImage(data=data, content_type=sniff_image(data), provider=self.name)
        return ImagePoll("done", 100, image)

    async def _download(self, url: str, task_id: str) -> bytes:
        async with self._downloads.session() as session, self._track("download") as call:
            call.provider_job_id = task_id
            what = f"{self.name} task {task_id}"
            return await download_result(
                session, url, policy=self._downloads, content_types=IMAGE_TYPES, what=what
            )

    def _track(self, operation: str) -> AbstractAsyncContextManager[Tracked]:
        return self._calls.track(self.service.name, operation, model=self.service.model)
