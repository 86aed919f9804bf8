"""Alibaba Cloud Model Studio (DashScope) text-to-image, asynchronously: `POST
/api/v1/services/aigc/text2image/image-synthesis` with `X-DashScope-Async: enable` returns a
`task_id`; `GET /api/v1/tasks/{task_id}` moves PENDING → RUNNING → SUCCEEDED | FAILED (UNKNOWN:
the task is gone). Results are URLs valid 24 h; `DataInspectionFailed` is a moderation refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.calls import Tracked
from lumi_common.providers.errors import ContentRefused, ProviderFailed, ResultExpired
from lumi_common.providers.http import BearerApi, Reply, error_text
from lumi_image_worker.providers.hosted_images import ImageTask

SUBMIT_PATH = "/api/v1/services/aigc/text2image/image-synthesis"
REFUSED_CODES = ("DataInspectionFailed", "IPInfringementSuspect")
_WORKING = {"PENDING": 10, "RUNNING": 50}


@dataclass(frozen=True, slots=True)
class DashScope:
    api: BearerApi  # base URL e.g. https://dashscope.aliyuncs.com
    model: str | None = "wanx2.1-t2i-turbo"
    size: str = "1024*1024"
    name: str = "dashscope"

    async def submit(
        self, session: aiohttp.ClientSession, prompt: str, seed: int, call: Tracked
    ) -> str:
        body = {
            "model": self.model,
            "input": {"prompt": prompt},
            "parameters": {"size": self.size, "n": 1, "seed": seed % 2**31},
        }
        reply = await self._send(session, "POST", SUBMIT_PATH, json=body, asynchronous=True)
        task_id = (reply.payload.get("output") or {}).get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise RetryableError("DashScope answered without a task_id")
        return task_id

    async def status(
        self, session: aiohttp.ClientSession, task_id: str, call: Tracked
    ) -> ImageTask:
        reply = await self._send(session, "GET", f"/api/v1/tasks/{task_id}")
        output: dict[str, Any] = reply.payload.get("output") or {}
        status = str(output.get("task_status", ""))
        if status in _WORKING:
            return ImageTask("running", _WORKING[status])
        if status == "SUCCEEDED":
            return _succeeded(output, reply.payload.get("usage") or {}, task_id)
        if status == "UNKNOWN":
            raise ResultExpired(f"DashScope no longer knows task {task_id}")
        _raise_refused(str(output.get("code", "")), task_id)
        raise ProviderFailed(
            f"DashScope could not make the picture: {error_text(output, 'message')}"
        )

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        *,
        asynchronous: bool = False,
        json: Any = None,
    ) -> Reply:
        headers = {"X-DashScope-Async": "enable"} if asynchronous else {}
        reply = await self.api.send(session, method, path, headers=headers, json=json)
        if not reply.ok:
            code = str(reply.payload.get("code", ""))
            _raise_refused(code, "request")
            raise PermanentError(
                f"DashScope refused ({reply.status} {code}): {error_text(reply.payload, 'message')}"
            )
        return reply


def _succeeded(output: dict[str, Any], usage: dict[str, Any], task_id: str) -> ImageTask:
    results = [r for r in output.get("results") or [] if isinstance(r, dict)]
    url = next((r["url"] for r in results if r.get("url")), None)
    if url is None:
        code = next((str(r.get("code", "")) for r in results), "")
        _raise_refused(code, task_id)
        raise ProviderFailed(f"DashScope task {task_id} succeeded without a picture ({code})")
    count = usage.get("image_count")
    cost = float(count) if isinstance(count, int | float) else None
    return ImageTask("done", 100, image_url=str(url), cost=cost, cost_unit="images")


def _raise_refused(code: str, what: str) -> None:
    if code.startswith(REFUSED_CODES):
        raise ContentRefused(f"DashScope refused {what} ({code})")
