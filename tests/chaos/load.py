"""The users of the chaos run: tasks created over the run, each followed as the apps follow it
(polling every 2 s), its first image chosen once the images are done, until it is terminal.

Every request is recorded with its time, status (or the connection error) and duration. A
creation that got no answer is sent again with the same `Idempotency-Key`, and a choice that got
no answer is sent again (a second one answers 409 once the first committed), as a careful client
does; neither may make a second task or model.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

POLL_SECONDS = 2.0
RETRY_SECONDS = 0.5
# a request slower than this breaks the invariant; the client waits a little longer to see it
SLOW_SECONDS = 5.0
CLIENT_TIMEOUT_SECONDS = 15.0
TERMINAL = frozenset({"COMPLETED", "IMAGE_FAILED", "MODEL_FAILED", "CANCELLED"})


@dataclass(frozen=True)
class Call:
    started: float
    method: str
    route: str
    status: int | None  # None: no answer (refused, reset, timed out)
    seconds: float
    error: str = ""


@dataclass
class Load:
    base_url: str
    token: str
    calls: list[Call] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)  # id → last status seen
    session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Load:
        timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
        self.session = aiohttp.ClientSession(timeout=timeout)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def run(self, count: int, *, over: float) -> None:
        """Create `count` tasks spread over `over` seconds and follow each until terminal."""
        gap = over / max(1, count)
        followers = []
        for n in range(count):
            task_id = await self.create(f"a chaos figurine, number {n}")
            followers.append(asyncio.create_task(self.follow(task_id)))
            await asyncio.sleep(gap)
        await asyncio.gather(*followers)

    async def create(self, prompt: str) -> str:
        key = str(uuid.uuid4())
        while True:
            status, body = await self.call(
                "POST", "/api/tasks", "create", json={"prompt": prompt}, key=key
            )
            if status in (200, 201):
                task_id = str(body["data"]["id"])
                self.tasks[task_id] = str(body["data"]["status"])
                return task_id
            await asyncio.sleep(RETRY_SECONDS)

    async def follow(self, task_id: str, *, choose: bool = True) -> str:
        """Poll until terminal, choosing image 0 on the way; the terminal status."""
        while True:
            status, body = await self.call("GET", f"/api/tasks/{task_id}", "read")
            if status == 200:
                task = body["data"]
                self.tasks[task_id] = task["status"]
                if task["status"] in TERMINAL:
                    return str(task["status"])
                if choose and task["status"] == "IMAGE_COMPLETED":
                    await self.choose(task_id)
            await asyncio.sleep(POLL_SECONDS)

    async def choose(self, task_id: str) -> None:
        body = {"selectedImageIndex": 0}
        status, _ = await self.call("PATCH", f"/api/tasks/{task_id}", "choose", json=body)
        # 409: chosen already (an earlier try committed); anything else: the next poll retries
        _ = status

    async def call(
        self, method: str, path: str, route: str, *, json: Any = None, key: str | None = None
    ) -> tuple[int | None, Any]:
        assert self.session is not None
        headers = {"Authorization": self.token}
        if key:
            headers["Idempotency-Key"] = key
        started = time.monotonic()
        try:
            async with self.session.request(
                method, self.base_url + path, json=json, headers=headers
            ) as response:
                body = await response.json(content_type=None) if response.status != 304 else None
                self.calls.append(
                    Call(started, method, route, response.status, time.monotonic() - started)
                )
                return response.status, body
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.calls.append(
                Call(started, method, route, None, time.monotonic() - started, repr(exc))
            )
            return None, None
