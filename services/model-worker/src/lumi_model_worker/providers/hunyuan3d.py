"""Tencent Hunyuan 3D (ai3d, API version 2025-05-13): `SubmitHunyuanTo3DProJob` with the picture
inline (`ImageBase64`), then `QueryHunyuanTo3DProJob`: WAIT/RUN, DONE (`ResultFile3Ds[]`, URLs
valid 24 h; we take the GLB) or FAIL (`ErrorCode`, moderation codes included). Requests are
signed with TC3-HMAC-SHA256 (lumi_common.providers.tencent).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from lumi_common.errors import RetryableError
from lumi_common.providers.calls import Tracked
from lumi_common.providers.errors import ContentRefused, ProviderFailed
from lumi_common.providers.tencent import TencentApi, error_for
from lumi_model_worker.providers.hosted import TaskState

SERVICE, VERSION = "ai3d", "2025-05-13"
# there is no progress figure: a waiting job shows this much, a running one the next
_PROGRESS = {"WAIT": 5, "RUN": 50}
_FORMAT_PREFERENCE = ("GLB", "OBJ")


@dataclass(frozen=True, slots=True)
class Hunyuan3D:
    api: TencentApi
    model: str | None = None  # "3.0" or "3.1"; the service's default when unset
    face_count: int | None = None
    name: str = "hunyuan3d"

    async def submit(
        self,
        session: aiohttp.ClientSession,
        image: bytes,
        call: Tracked,
        *,
        image_url: str | None = None,
    ) -> str:
        # ImageUrl or ImageBase64 (the request body is limited to 10 MB: a URL is lighter)
        params: dict[str, Any] = (
            {"ImageUrl": image_url}
            if image_url
            else {"ImageBase64": base64.b64encode(image).decode()}
        )
        if self.model:
            params["Model"] = self.model
        if self.face_count:
            params["FaceCount"] = max(3000, min(self.face_count, 1_500_000))
        response = await self.api.call(session, "SubmitHunyuanTo3DProJob", params, now=_now())
        job_id = response.get("JobId")
        if not isinstance(job_id, str) or not job_id:
            raise RetryableError("Hunyuan 3D answered without a JobId")
        return job_id

    async def status(
        self, session: aiohttp.ClientSession, task_id: str, call: Tracked
    ) -> TaskState:
        # an unknown (expired) job is `ResourceNotFound`: ResultExpired, submitted again
        params = {"JobId": task_id}
        response = await self.api.call(session, "QueryHunyuanTo3DProJob", params, now=_now())
        status = str(response.get("Status", ""))
        if status in _PROGRESS:
            return TaskState("running", _PROGRESS[status])
        if status == "DONE":
            return _done(response, task_id)
        if status == "FAIL":
            code = str(response.get("ErrorCode") or "")
            failure = error_for(code, str(response.get("ErrorMessage") or ""))
            if isinstance(failure, ContentRefused):
                raise failure
            raise ProviderFailed(f"Hunyuan 3D could not make a model ({code or 'no code'})")
        raise RetryableError(f"Hunyuan 3D reported an unknown status {status!r}")


def _done(response: dict[str, Any], task_id: str) -> TaskState:
    files = {
        str(item.get("Type", "")).upper(): item.get("Url")
        for item in response.get("ResultFile3Ds") or []
        if isinstance(item, dict)
    }
    kind = next((k for k in _FORMAT_PREFERENCE if files.get(k)), None)
    if kind is None:
        raise ProviderFailed(f"Hunyuan 3D job {task_id} produced no GLB or OBJ file")
    credits = response.get("ResultCreditConsumed")
    cost = float(credits) if isinstance(credits, int | float) else None
    # Hunyuan's OBJ result is a zip of OBJ + MTL + texture
    file_type = "glb" if kind == "GLB" else "zip"
    return TaskState("done", 100, model_url=str(files[kind]), file_type=file_type, cost=cost)


def _now() -> int:
    return int(time.time())
