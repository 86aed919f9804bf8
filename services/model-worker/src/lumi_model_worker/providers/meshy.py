"""Meshy API v2: `POST /openapi/v2/image-to-3d` with the picture inline as a data URI, then
`GET /openapi/v2/tasks/{id}`: PENDING/IN_PROGRESS, SUCCEEDED (`output.model_urls.glb`, valid until
`expires_at`) or FAILED (`task_error`). Request errors are `{type, code, message}`; a moderation
refusal is 403 with a `moderation_blocked*` code, on the request or in `task_error`.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.calls import Tracked
from lumi_common.providers.errors import ContentRefused, ProviderFailed, ResultExpired
from lumi_common.providers.http import BearerApi, Reply, error_text
from lumi_common.providers.pictures import picture_type
from lumi_model_worker.providers.hosted import TaskState

_WORKING = frozenset({"PENDING", "IN_PROGRESS"})


@dataclass(frozen=True, slots=True)
class Meshy:
    api: BearerApi  # base URL e.g. https://api.meshy.ai
    model: str | None = "latest"
    target_polycount: int | None = None
    name: str = "meshy"

    async def submit(
        self,
        session: aiohttp.ClientSession,
        image: bytes,
        call: Tracked,
        *,
        image_url: str | None = None,
    ) -> str:
        # Meshy takes a public URL or the picture inline as a data URI (a third larger)
        body: dict[str, Any] = {"image_url": image_url or data_uri(image), "should_texture": True}
        if self.model:
            body["ai_model"] = self.model
        if self.target_polycount:
            body["target_polycount"] = self.target_polycount
        reply = await self.api.send(session, "POST", "/openapi/v2/image-to-3d", json=body)
        self._raise_for(reply, "submit")
        task_id = reply.payload.get("id") or reply.payload.get("result")
        if not isinstance(task_id, str) or not task_id:
            raise RetryableError("Meshy answered without a task id")
        return task_id

    async def status(
        self, session: aiohttp.ClientSession, task_id: str, call: Tracked
    ) -> TaskState:
        reply = await self.api.send(session, "GET", f"/openapi/v2/tasks/{task_id}")
        if reply.status == 404:
            raise ResultExpired(f"Meshy no longer knows task {task_id}")
        self._raise_for(reply, "poll")
        task = reply.payload
        status, progress = str(task.get("status", "")), _int(task.get("progress"))
        if status in _WORKING:
            return TaskState("running", progress)
        if status == "SUCCEEDED":
            return self._done(task, task_id)
        error = task.get("task_error") or {}
        if str(error.get("code", "")).startswith("moderation"):
            raise ContentRefused(f"Meshy refused task {task_id}: {error_text(error, 'message')}")
        if status in ("FAILED", "CANCELED"):
            raise ProviderFailed(f"Meshy could not make a model: {error_text(error, 'message')}")
        raise RetryableError(f"Meshy reported an unknown status {status!r}")

    def _done(self, task: dict[str, Any], task_id: str) -> TaskState:
        expires = task.get("expires_at")
        if isinstance(expires, int | float) and expires / 1000 <= time.time():
            raise ResultExpired(f"the result of Meshy task {task_id} expired")
        urls = (task.get("output") or {}).get("model_urls") or {}
        kind = next((k for k in ("glb", "obj") if urls.get(k)), "glb")
        credits = task.get("consumed_credits")
        cost = float(credits) if isinstance(credits, int | float) else None
        return TaskState("done", 100, model_url=urls.get(kind), file_type=kind, cost=cost)

    def _raise_for(self, reply: Reply, step: str) -> None:
        if reply.ok:
            return
        code, reason = str(reply.payload.get("code", "")), error_text(reply.payload, "message")
        if code.startswith("moderation"):
            raise ContentRefused(f"Meshy refused the {step} ({code}): {reason}")
        raise PermanentError(f"Meshy refused the {step} ({reply.status} {code}): {reason}")


def data_uri(image: bytes) -> str:
    kind = picture_type(image) or "image/png"
    return f"data:{kind};base64,{base64.b64encode(image).decode()}"


def _int(value: object) -> int:
    return max(0, min(100, int(value))) if isinstance(value, int | float) else 0
