"""Tripo API v3: the picture uploaded (`POST /files` → `file_token`), then
`POST /generation/image-to-model` → `task_id`, then `GET /tasks/{id}`.

Statuses: queued/running (working), success (`output.model_url`, a GLB signed for minutes),
failed/cancelled (failed), banned (moderation), expired (the result is gone: submit again).
Every answer is `{"code": 0, "data": …}`; errors carry a non-zero `code` and a `message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.calls import Tracked
from lumi_common.providers.errors import ContentRefused, ProviderFailed, ResultExpired
from lumi_common.providers.http import BearerApi, Reply, error_text
from lumi_common.providers.pictures import EXTENSIONS, picture_type
from lumi_model_worker.providers.hosted import TaskState

_WORKING = frozenset({"queued", "running"})


@dataclass(frozen=True, slots=True)
class Tripo:
    api: BearerApi  # base URL e.g. https://openapi.tripo3d.ai/v3
    model: str | None = "v3.0-20250812"
    face_limit: int | None = None
    name: str = "tripo"

    async def submit(
        self,
        session: aiohttp.ClientSession,
        image: bytes,
        call: Tracked,
        *,
        image_url: str | None = None,
    ) -> str:
        # v3 takes the token of an uploaded file as `input`: the picture is always uploaded
        form = aiohttp.FormData()
        kind = picture_type(image) or "image/png"
        name = f"picture.{EXTENSIONS.get(kind, 'png')}"
        form.add_field("file", image, filename=name, content_type=kind)
        uploaded = self._data(await self.api.send(session, "POST", "/files", data=form), "upload")
        body: dict[str, Any] = {"input": uploaded.get("file_token"), "texture": True, "pbr": False}
        if self.model:
            body["model"] = self.model
        if self.face_limit:
            body["face_limit"] = self.face_limit
        reply = await self.api.send(session, "POST", "/generation/image-to-model", json=body)
        task_id = self._data(reply, "submit").get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise RetryableError("Tripo answered without a task_id")
        return task_id

    async def status(
        self, session: aiohttp.ClientSession, task_id: str, call: Tracked
    ) -> TaskState:
        reply = await self.api.send(session, "GET", f"/tasks/{task_id}")
        if reply.status == 404:
            raise ResultExpired(f"Tripo no longer knows task {task_id}")
        data = self._data(reply, "poll")
        status, progress = str(data.get("status", "")), _int(data.get("progress"))
        if status in _WORKING:
            return TaskState("running", progress)
        if status == "success":
            output = data.get("output") or {}
            url = output.get("model_url") or output.get("pbr_model") or output.get("model")
            credits = data.get("credits_consumed", data.get("consumed_credits"))
            return TaskState("done", 100, model_url=url, cost=_float(credits))
        if status == "banned":
            raise ContentRefused(f"Tripo banned task {task_id}")
        if status == "expired":
            raise ResultExpired(f"Tripo task {task_id} expired")
        if status in ("failed", "cancelled"):
            raise ProviderFailed(
                f"Tripo could not make a model ({status}): {error_text(data, 'error_msg')}"
            )
        raise RetryableError(f"Tripo reported an unknown status {status!r}")

    def _data(self, reply: Reply, step: str) -> dict[str, Any]:
        code, data = reply.payload.get("code"), reply.payload.get("data")
        if reply.ok and code == 0 and isinstance(data, dict):
            return data
        reason = error_text(reply.payload, "message")
        if reply.status in (401, 403):
            raise PermanentError(f"Tripo refused our key or credit at {step} ({code}): {reason}")
        if not reply.ok:
            raise PermanentError(f"Tripo refused the {step} ({reply.status}, {code}): {reason}")
        raise RetryableError(f"Tripo sent an unexpected {step} answer (code {code})")


def _int(value: object) -> int:
    return max(0, min(100, int(value))) if isinstance(value, int | float) else 0


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
