"""Image generation through an OpenAI-compatible `POST /images/generations` endpoint
(OpenAI, SiliconFlow and others speak it), synchronously.

Failures are classified for the runtime (lumi_common.providers.http): overload, server errors
and network trouble are retryable, 429 waits for `Retry-After`; a refused request is permanent,
a content-policy refusal `ContentRefused`. Results come inline (`b64_json`) or as a URL fetched
with the guarded download.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.calls import CallLog
from lumi_common.providers.downloads import DownloadPolicy, download
from lumi_common.providers.errors import ContentRefused
from lumi_common.providers.http import Timeouts, error_text, send_json
from lumi_image_worker.providers.images import GeneratedImage, sniff_image

MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
# OpenAI's error codes for its safety system
_REFUSED_CODES = frozenset({"content_policy_violation", "moderation_blocked"})


@dataclass(frozen=True, slots=True)
class OpenAIImageGenerator:
    base_url: str
    model: str
    api_key: str | None = None
    size: str = "1024x1024"
    timeout: float = 120.0  # the whole call
    calls: CallLog = field(default_factory=CallLog)
    # where result URLs may point (the API's own host is always allowed)
    downloads: DownloadPolicy | None = None
    name: str = "openai"

    async def generate(self, prompt: str, *, seed: int) -> GeneratedImage:
        body = {
            "model": self.model,
            "prompt": prompt,
            "n": 1,
            "size": self.size,
            "seed": seed % 2**31,
            "response_format": "b64_json",
        }
        async with (
            aiohttp.ClientSession() as session,
            self.calls.track(self.name, "generate", model=self.model) as call,
        ):
            reply = await self._post(session, body)
            call.cost, call.cost_unit = 1.0, "images"
        data = await self._image_bytes(reply)
        return GeneratedImage(data=data, content_type=sniff_image(data), provider=self.name)

    async def _post(self, session: aiohttp.ClientSession, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url.rstrip('/')}/images/generations"
        timeouts = Timeouts(total=self.timeout, read=self.timeout)
        reply = await send_json(session, "POST", url, headers=headers, json=body, timeouts=timeouts)
        if reply.ok:
            return reply.payload
        error = reply.payload.get("error")
        reason = error_text(reply.payload, "error", "message")
        if isinstance(error, dict) and error.get("code") in _REFUSED_CODES:
            raise ContentRefused(f"image provider refused the prompt: {reason}")
        raise PermanentError(f"image provider refused: {reason}")

    async def _image_bytes(self, reply: dict[str, Any]) -> bytes:
        items = reply.get("data") or reply.get("images") or []
        first = items[0] if isinstance(items, list) and items else {}
        if isinstance(first, dict) and isinstance(first.get("b64_json"), str):
            try:
                return base64.b64decode(first["b64_json"], validate=True)
            except binascii.Error as error:
                raise RetryableError("image provider sent broken base64") from error
        if isinstance(first, dict) and isinstance(first.get("url"), str):
            policy = self._policy()
            async with (
                policy.session() as session,
                self.calls.track(self.name, "download", model=self.model),
            ):
                return await download(
                    session, first["url"], policy=policy, content_types=IMAGE_TYPES
                )
        raise RetryableError("image provider answered without an image")

    def _policy(self) -> DownloadPolicy:
        api_host = URL(self.base_url).host or ""
        base = self.downloads or DownloadPolicy(
            allowed_hosts=frozenset(), max_bytes=MAX_IMAGE_BYTES
        )
        return DownloadPolicy(
            allowed_hosts=base.allowed_hosts | {api_host},
            max_bytes=min(base.max_bytes, MAX_IMAGE_BYTES),
            timeouts=base.timeouts,
            http_hosts=base.http_hosts,
            allow_private=base.allow_private,
        )
