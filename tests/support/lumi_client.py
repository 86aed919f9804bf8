"""An HTTP client that talks to a running API exactly as the web and mobile apps do.

Bearer header on every call, JSend bodies, and progress by polling
`GET /api/tasks/:id/status?since=<updatedAt>` (304 = nothing changed), checking on the way what
the apps rely on: every 200 carries a strictly later `updatedAt`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from lumi_common.time import parse_iso

Task = dict[str, Any]
POLL_INTERVAL_SECONDS = 0.2
# the web app polls every 5 s; tests ask more often, to finish sooner
SLICE_POLL_SECONDS = 0.3
FAILED_STATUSES = frozenset({"IMAGE_FAILED", "MODEL_FAILED", "FAILED", "CANCELLED"})


@dataclass(frozen=True)
class Download:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


class LumiClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": token}

    async def create_task(self, prompt: str) -> Task:
        return await self._call("POST", "/api/tasks", json={"prompt": prompt}, expect=201)

    async def task(self, task_id: str) -> Task:
        return await self._call("GET", f"/api/tasks/{task_id}")

    async def select_image(self, task_id: str, index: int) -> dict[str, Any]:
        body = {"selectedImageIndex": index}
        return await self._call("PATCH", f"/api/tasks/{task_id}", json=body)

    async def status(self, task_id: str, *, since: str | None) -> Task | None:
        """The task, or None for a 304 (nothing changed since `since`)."""
        params = {"since": since} if since else {}
        url = f"{self.base_url}/api/tasks/{task_id}/status"
        async with self.session.get(url, params=params, headers=self.headers) as response:
            if response.status == 304:
                assert await response.read() == b""
                return None
            assert response.status == 200, await response.text()
            body = await response.json()
        assert body["status"] == "success", body
        task: Task = body["data"]
        return task

    async def slice(self, model_id: str, **body: Any) -> dict[str, Any]:
        """`POST /api/slices`, the web app's slice button."""
        return await self._call(
            "POST", "/api/slices", json={"modelId": model_id, **body}, expect=201
        )

    async def print_task(self, task_id: str) -> dict[str, Any]:
        """`POST /api/tasks/:id/print {}`, the web app's one-click print."""
        return await self._call("POST", f"/api/tasks/{task_id}/print", json={})

    async def slice_task(self, slice_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/slices/{slice_id}")

    async def until_sliced(
        self, slice_id: str, *, within: float = 120.0, interval: float = SLICE_POLL_SECONDS
    ) -> dict[str, Any]:
        """Poll `GET /api/slices/:id` as the web app does, until COMPLETED or FAILED."""
        deadline = time.monotonic() + within
        while True:
            state = await self.slice_task(slice_id)
            if state["sliceStatus"] in ("COMPLETED", "FAILED"):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"slice {slice_id} not finished after {within}s: {state}")
            await asyncio.sleep(interval)

    async def download(self, url: str) -> Download:
        """A file URL as the apps fetch it: verbatim, without the bearer header."""
        async with self.session.get(url) as response:
            return Download(response.status, dict(response.headers), await response.read())

    def watch(self, task: Task) -> TaskWatch:
        return TaskWatch(self, task["id"], since=task["updatedAt"])

    async def _call(
        self, method: str, path: str, *, expect: int = 200, **kwargs: Any
    ) -> dict[str, Any]:
        url = self.base_url + path
        async with self.session.request(method, url, headers=self.headers, **kwargs) as response:
            assert response.status == expect, await response.text()
            assert response.content_type == "application/json"
            body = await response.json()
        assert body["status"] == "success", body
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class TaskWatch:
    """Polls one task's status route the way the apps do and keeps every 200 it received."""

    client: LumiClient
    task_id: str
    since: str | None
    seen: list[Task] = field(default_factory=list)
    polls: int = 0

    async def until(
        self,
        done: Callable[[Task], bool],
        *,
        within: float = 60.0,
        interval: float = POLL_INTERVAL_SECONDS,
        failed: frozenset[str] = FAILED_STATUSES,
    ) -> Task:
        """Poll until `done(task)`; fails on a timeout or on a `failed` status first."""
        deadline = time.monotonic() + within
        while True:
            task = await self.client.status(self.task_id, since=self.since)
            self.polls += 1
            if task is not None:
                self._record(task)
                if done(task):
                    return task
                assert task["status"] not in failed, task
            if time.monotonic() > deadline:
                last = self.seen[-1] if self.seen else None
                raise AssertionError(f"task {self.task_id} not done after {within}s: {last}")
            await asyncio.sleep(interval)

    def _record(self, task: Task) -> None:
        if self.since is not None:
            # every change must move updatedAt forward, or a client polling ?since= misses it
            assert parse_iso(task["updatedAt"]) > parse_iso(self.since), (self.since, task)
        self.since = task["updatedAt"]
        self.seen.append(task)


def status_is(*statuses: str) -> Callable[[Task], bool]:
    return lambda task: task["status"] in statuses
