"""Local servers that speak vendor protocols we cannot reach from tests."""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from lumi_image_worker.providers.procedural import render_png


@dataclass
class OpenAIImagesEmulator:
    """`POST /v1/images/generations`. Each prompt fails `fail_first` times with HTTP 503, or
    always with `fail_always` (an HTTP status), before it succeeds."""

    fail_first: int = 0
    fail_always: int | None = None
    calls: Counter[str] = field(default_factory=Counter)
    refusal: str = "Your request was rejected by the safety system."

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/images/generations", self.generations)
        return app

    async def generations(self, request: web.Request) -> web.Response:
        body = await request.json()
        prompt = str(body.get("prompt", ""))
        self.calls[prompt] += 1
        if self.fail_always is not None:
            return web.json_response(
                {"error": {"message": self.refusal, "type": "invalid_request_error"}},
                status=self.fail_always,
            )
        if self.calls[prompt] <= self.fail_first:
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        png = render_png(prompt, int(body.get("seed", 0)))
        return web.json_response(
            {"created": 0, "data": [{"b64_json": base64.b64encode(png).decode()}]}
        )
