"""A hosted 3D service behind the `MeshGenerator` steps: submit the picture, poll the task, fetch
the result file through the guarded download client and convert it once (viewer files + STL).

Each service (Tripo, Meshy, Hunyuan 3D) only speaks its protocol (`MeshService`); what they
share — sessions, call records, downloads, expiry, conversion — is written here once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp

from lumi_common.errors import RetryableError
from lumi_common.providers.calls import CallLog, Tracked
from lumi_common.providers.downloads import DownloadPolicy, download_result
from lumi_model_worker.providers.meshes import PollResult
from lumi_model_worker.providers.model_files import MeshArtifacts, convert
from lumi_model_worker.providers.model_reader import read_model

# what storage services label a GLB or a zip with (S3-style buckets often say binary/octet-stream)
MODEL_TYPES = (
    "model/gltf-binary",
    "application/octet-stream",
    "binary/octet-stream",
    "application/zip",
    "model/obj",
)


@dataclass(frozen=True, slots=True)
class TaskState:
    state: Literal["running", "done"]
    progress: int  # 0–100
    model_url: str | None = None
    file_type: str = "glb"
    cost: float | None = None  # credits, where the provider reports them


class MeshService(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str | None: ...

    async def submit(
        self,
        session: aiohttp.ClientSession,
        image: bytes,
        call: Tracked,
        *,
        image_url: str | None = None,
    ) -> str:
        """Start a task; return its id. Failures raise (see lumi_common.providers.errors).
        A service that can fetch `image_url` sends it instead of the picture's bytes."""
        ...

    async def status(
        self, session: aiohttp.ClientSession, task_id: str, call: Tracked
    ) -> TaskState:
        """Where the task is. Banned/moderated, failed and expired tasks raise."""
        ...


@dataclass(frozen=True, slots=True)
class ModelOutput:
    print_size_mm: float
    max_faces: int


class HostedMeshGenerator:
    def __init__(
        self,
        service: MeshService,
        *,
        calls: CallLog,
        downloads: DownloadPolicy,
        output: ModelOutput,
    ) -> None:
        self.service = service
        self._calls = calls
        self._downloads = downloads
        self._output = output

    async def submit(self, image: bytes, *, job_key: str, image_url: str | None = None) -> str:
        async with self._session() as session, self._track("submit") as call:
            task_id = await self.service.submit(session, image, call, image_url=image_url)
            call.provider_job_id = task_id
        return task_id

    async def poll(self, provider_job_id: str) -> PollResult:
        state = await self._status(provider_job_id, "poll")
        return PollResult(state=state.state, progress=state.progress)

    async def fetch(self, provider_job_id: str) -> MeshArtifacts:
        # asked again: result URLs are signed for minutes, the last poll's may have lapsed
        state = await self._status(provider_job_id, "fetch")
        if state.state != "done" or not state.model_url:
            raise RetryableError(f"{self.service.name} task {provider_job_id} has no result yet")
        data = await self._download(state.model_url, provider_job_id)
        mesh, texture = await asyncio.to_thread(read_model, data, state.file_type)
        out = self._output
        return await asyncio.to_thread(
            convert, mesh, texture, up="y", print_size_mm=out.print_size_mm, max_faces=out.max_faces
        )

    async def _status(self, task_id: str, operation: str) -> TaskState:
        async with self._session() as session, self._track(operation) as call:
            call.provider_job_id = task_id
            state = await self.service.status(session, task_id, call)
            if state.cost is not None:
                call.cost, call.cost_unit = state.cost, "credits"
        return state

    async def _download(self, url: str, task_id: str) -> bytes:
        async with self._downloads.session() as session, self._track("download") as call:
            call.provider_job_id = task_id
            what = f"{self.service.name} task {task_id}"
            return await download_result(
                session, url, policy=self._downloads, content_types=MODEL_TYPES, what=what
            )

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[aiohttp.ClientSession]:
        async with aiohttp.ClientSession() as session:
            yield session

    def _track(self, operation: str):  # type: ignore[no-untyped-def]
        return self._calls.track(self.service.name, operation, model=self.service.model)
