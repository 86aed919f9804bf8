"""Image generation through an OpenAI-compatible `POST /images/generations` endpoint
(OpenAI, SiliconFlow and others speak it).

Failures are classified for the runtime: overload, rate limits, server errors and network
trouble are `RetryableError`; a refused request (bad prompt, content policy, bad key) is a
`PermanentError`. Results come inline (`b64_json`) or as a URL fetched with the guarded download.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.downloads import download
from lumi_image_worker.providers.images import GeneratedImage

MAX_IMAGE_BYTES = 20 * 1024 * 1024
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}
_RETRYABLE = frozenset({408, 409, 425, 429})


@dataclass(frozen=True, slots=True)
class OpenAIImageGenerator:
    base_url: str
    model: str
    api_key: str | None = None
    size: str = "1024x1024"
    timeout: float = 120.0
    # hosts result URLs may point at, besides the API's own (e.g. the provider's CDN)
    result_hosts: frozenset[str] = field(default_factory=frozenset)
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
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            reply = await self._post(session, body, headers)
            data = await self._image_bytes(session, reply)
        return GeneratedImage(data=data, content_type=_sniff(data), provider=self.name)

    async def _post(
        self, session: aiohttp.ClientSession, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        url = f"{self.base_url.rstrip('/')}/images/generations"
        try:
            async with session.post(url, json=body, headers=headers) as response:
                if response.status >= 500 or response.status in _RETRYABLE:
                    raise RetryableError(f"image provider answered {response.status}")
                payload: Any = await response.json(content_type=None)
                if response.status >= 400:
                    raise PermanentError(f"image provider refused: {_error_text(payload)}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RetryableError(f"image provider unreachable: {type(error).__name__}") from error
        except ValueError as error:  # a body that is not JSON
            raise RetryableError("image provider sent an unreadable answer") from error
        if not isinstance(payload, dict):
            raise RetryableError("image provider sent an unexpected answer")
        return payload

    async def _image_bytes(self, session: aiohttp.ClientSession, reply: dict[str, Any]) -> bytes:
        items = reply.get("data") or reply.get("images") or []
        first = items[0] if isinstance(items, list) and items else {}
        if isinstance(first, dict) and isinstance(first.get("b64_json"), str):
            try:
                return base64.b64decode(first["b64_json"], validate=True)
            except binascii.Error as error:
                raise RetryableError("image provider sent broken base64") from error
        if isinstance(first, dict) and isinstance(first.get("url"), str):
            api_host = URL(self.base_url).host or ""
            return await download(
                session,
                first["url"],
                allowed_hosts=self.result_hosts | {api_host},
                max_bytes=MAX_IMAGE_BYTES,
                timeout=self.timeout,
                content_types=_IMAGE_TYPES,
                http_hosts=frozenset({api_host})
                if URL(self.base_url).scheme == "http"
                else frozenset(),
            )
        raise RetryableError("image provider answered without an image")


def _error_text(payload: Any) -> str:
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:500]
        if payload.get("message"):
            return str(payload["message"])[:500]
    return "no reason given"


def _sniff(data: bytes) -> str:
    for magic, content_type in _MAGIC.items():
        if data.startswith(magic):
            return content_type
    raise PermanentError("image provider sent something that is not a PNG, JPEG or WebP image")
