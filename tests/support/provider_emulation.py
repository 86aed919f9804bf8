"""What every hosted-provider emulator shares: a script of what goes wrong, the tasks it holds,
and the result files it serves under expiring signed URLs.

Each emulator is an aiohttp app speaking one provider's documented protocol; a test sets the
`Script` before the worker asks, and reads the `calls` afterwards.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
import numpy as np
import trimesh
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from PIL import Image

from lumi_common.providers.calls import ProviderCall
from lumi_model_worker.providers.mesh_formats import TexturedMesh, glb_bytes

GLB_TYPE = "model/gltf-binary"
# what a worker needs to reach an emulator on this machine: plain http, a loopback address
LOCAL_PROVIDER_ENV = {
    "PROVIDER_HTTP_HOSTS": "127.0.0.1",
    "PROVIDER_RESULT_HOSTS": "127.0.0.1",
    "PROVIDER_ALLOW_PRIVATE_ADDRESSES": "true",
}


@dataclass
class Script:
    """What the emulated provider does to the next tasks (all counters count down)."""

    running_polls: int = 2  # polls that see the task queued or running before it succeeds
    rate_limited: int = 0  # requests answered 429 with Retry-After, whatever they are
    retry_after: float = 1.0
    refuse: bool = False  # moderation: the task is banned / the request refused
    fail: bool = False  # the provider's own failure
    expired_downloads: int = 0  # result URLs that answer 403 (expired signature)
    expire_tasks: int = 0  # tasks whose whole result is gone (status "expired" or not found)
    malformed: int = 0  # answers whose body is not JSON
    slow_seconds: float = 0.0  # delay before each answer (a slow provider)


@dataclass
class Task:
    id: str
    input: dict[str, object]
    polls: int = 0
    expired: bool = False


@dataclass
class Emulation:
    """Tasks, scripted trouble and result files of one emulated provider."""

    script: Script = field(default_factory=Script)
    tasks: dict[str, Task] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    downloads: Counter[str] = field(default_factory=Counter)
    model_file: bytes = field(default_factory=lambda: provider_glb())
    base_url: str = ""  # set once the server runs: result URLs point back at it

    def new_task(self, payload: dict[str, object]) -> Task:
        task = Task(id=secrets.token_hex(8), input=payload)
        if self.script.expire_tasks > 0:
            self.script.expire_tasks -= 1
            task.expired = True
        self.tasks[task.id] = task
        return task

    def advance(self, task: Task) -> str:
        """`running`, `done`, `failed`, `refused` or `expired` after one more poll."""
        task.polls += 1
        if task.expired:
            return "expired"
        if self.script.refuse:
            return "refused"
        if task.polls <= self.script.running_polls:
            return "running"
        return "failed" if self.script.fail else "done"

    def progress(self, task: Task) -> int:
        return min(99, 100 * task.polls // (self.script.running_polls + 1))

    def result_url(self, task: Task, name: str = "model.glb") -> str:
        expires = int(time.time()) + 600
        return f"{self.base_url}/results/{task.id}/{name}?Expires={expires}&Signature=s3cr3t"

    async def trouble(
        self, kind: str, *, rate_limit: web.Response | None = None
    ) -> web.Response | None:
        """The scripted answer to this request instead of the real one, if any (`rate_limit`:
        the provider's own way of saying so, HTTP 429 with Retry-After by default)."""
        self.calls[kind] += 1
        if self.script.slow_seconds:
            await asyncio.sleep(self.script.slow_seconds)
        if self.script.rate_limited > 0:
            self.script.rate_limited -= 1
            headers = {"Retry-After": str(self.script.retry_after)}
            too_many = web.json_response(
                {"message": "too many requests"}, status=429, headers=headers
            )
            return rate_limit or too_many
        if self.script.malformed > 0:
            self.script.malformed -= 1
            return web.Response(
                text="<html>502 Bad Gateway</html>", content_type="application/json"
            )
        return None

    async def serve_result(self, request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        self.downloads[task_id] += 1
        if request.query.get("Signature") != "s3cr3t" or task_id not in self.tasks:
            return web.Response(status=403, text="AccessDenied")
        if self.script.expired_downloads > 0:
            self.script.expired_downloads -= 1
            return web.Response(status=403, text="Request has expired")
        return web.Response(body=self.model_file, content_type=GLB_TYPE)

    def add_result_route(self, app: web.Application) -> None:
        app.router.add_get("/results/{task_id}/{name}", self.serve_result)


def provider_glb(*, height: float = 1.8) -> bytes:
    """A textured figurine in glTF's conventions (Y up, metres), as providers send them."""
    sphere = trimesh.creation.icosphere(subdivisions=3)
    vertices = sphere.vertices * [0.35, height / 2, 0.25] + [0.0, height / 2, 0.0]
    u = np.arctan2(vertices[:, 0], vertices[:, 2]) / (2 * np.pi) + 0.5
    v = vertices[:, 1] / height
    mesh = TexturedMesh(
        vertices=vertices, faces=np.asarray(sphere.faces), uv=np.column_stack([u, v])
    )
    texture = Image.radial_gradient("L").convert("RGB")
    return glb_bytes(mesh, texture)


def bearer_ok(request: web.Request, key: str) -> bool:
    return request.headers.get("Authorization") == f"Bearer {key}"


def png_bytes_of(size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((size, size)).save(out, format="PNG")
    return out.getvalue()


def bearer_auth(key: str, *, under: str, refusal: Callable[[], web.Response]) -> Middleware:
    """Every request under the path `under` must carry `Authorization: Bearer <key>`."""

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(under) and not bearer_ok(request, key):
            return refusal()
        return await handler(request)

    return auth


class Emulator(Protocol):
    emulation: Emulation

    def app(self) -> web.Application: ...


class MemoryCalls:
    """A call recorder that keeps what it is told, for tests to read."""

    def __init__(self) -> None:
        self.calls: list[ProviderCall] = []

    async def record(self, call: ProviderCall) -> None:
        self.calls.append(call)

    @property
    def outcomes(self) -> list[tuple[str, str]]:
        return [(call.operation, call.outcome) for call in self.calls]


async def fetch_picture(url: str) -> bytes | None:
    """What a provider does with an image URL: download it (None when it cannot)."""
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            if response.status != 200:
                return None
            return await response.read()
    except aiohttp.ClientError:
        return None
