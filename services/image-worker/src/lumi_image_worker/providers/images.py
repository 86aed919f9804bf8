"""Image generation: a prompt and a seed become one picture."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Protocol

from lumi_common.errors import PermanentError
from lumi_common.providers.pictures import picture_type
from lumi_image_worker.providers.procedural import render_png

PNG = "image/png"

# 1×1 opaque white PNG: the smallest valid picture, for benchmarks of everything around providers
_TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC"
)


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    data: bytes
    content_type: str
    provider: str


class ImageGenerator(Protocol):
    async def generate(self, prompt: str, *, seed: int) -> GeneratedImage: ...


class OfflineImageGenerator:
    """A 1024×1024 procedural picture, the same for the same prompt and seed, with no network."""

    name = "offline"

    async def generate(self, prompt: str, *, seed: int) -> GeneratedImage:
        # a long stretch of numpy and zlib (docs/performance.md, "Model files"): off the event
        # loop, so a worker keeps its leases alive
        data = await asyncio.to_thread(render_png, prompt, seed)
        return GeneratedImage(data=data, content_type=PNG, provider=self.name)


class InstantImageGenerator:
    """A fixed tiny PNG at once: measures the orchestration around image jobs, not the pictures."""

    name = "instant"

    async def generate(self, prompt: str, *, seed: int) -> GeneratedImage:
        return GeneratedImage(data=_TINY_PNG, content_type=PNG, provider=self.name)


def sniff_image(data: bytes) -> str:
    """The content type of a provider's picture, from its first bytes (not from its headers)."""
    kind = picture_type(data)
    if kind is not None:
        return kind
    raise PermanentError("the image provider sent something that is not a PNG, JPEG or WebP image")
