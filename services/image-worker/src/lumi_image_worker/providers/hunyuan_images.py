"""Tencent Hunyuan image generation (hunyuan, API version 2023-09-01): `SubmitHunyuanImageJob`
returns a `JobId`; `QueryHunyuanImageJob` reports `JobStatusCode` 1 (waiting), 2 (running),
4 (failed, `JobErrorCode`), 5 (done, `ResultImage` URLs valid one hour). Signed TC3-HMAC-SHA256.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from lumi_common.errors import RetryableError
from lumi_common.providers.calls import Tracked
from lumi_common.providers.errors import ContentRefused, ProviderFailed
from lumi_common.providers.tencent import TencentApi, error_for
from lumi_image_worker.providers.hosted_images import ImageTask

SERVICE, VERSION = "hunyuan", "2023-09-01"
_WORKING = {"1": 10, "2": 50}


@dataclass(frozen=True, slots=True)
class HunyuanImages:
    api: TencentApi
    resolution: str = "1024:1024"
    model: str | None = None
    name: str = "hunyuan"

    async def submit(
        self, session: aiohttp.ClientSession, prompt: str, seed: int, call: Tracked
    ) -> str:
        params: dict[str, Any] = {
            "Prompt": prompt[:1024],
            "Resolution": self.resolution,
            "Num": 1,
            "Seed": seed % 2**31 or 1,  # 0 would mean "random"
            "Revise": 0,  # our prompts are already written for printable objects
            "LogoAdd": 0,
        }
        response = await self.api.call(
            session, "SubmitHunyuanImageJob", params, now=int(time.time())
        )
        job_id = response.get("JobId")
        if not isinstance(job_id, str) or not job_id:
            raise RetryableError("Hunyuan answered without a JobId")
        return job_id

    async def status(
        self, session: aiohttp.ClientSession, task_id: str, call: Tracked
    ) -> ImageTask:
        response = await self.api.call(
            session, "QueryHunyuanImageJob", {"JobId": task_id}, now=int(time.time())
        )
        code = str(response.get("JobStatusCode", ""))
        if code in _WORKING:
            return ImageTask("running", _WORKING[code])
        if code == "5":
            urls = [u for u in response.get("ResultImage") or [] if isinstance(u, str) and u]
            if not urls:
                raise ProviderFailed(f"Hunyuan job {task_id} finished without a picture")
            return ImageTask("done", 100, image_url=urls[0], cost=1.0, cost_unit="images")
        failure = error_for(
            str(response.get("JobErrorCode") or ""), str(response.get("JobErrorMsg") or "")
        )
        if isinstance(failure, ContentRefused):
            raise failure
        raise ProviderFailed(f"Hunyuan could not make the picture ({response.get('JobErrorCode')})")
