"""An OpenAI-compatible `POST /v1/chat/completions` that writes prompt variants as JSON, or
misbehaves as told (slow, not JSON, too few variants, errors)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from aiohttp import web

KEY = "sk-chat-test"


@dataclass
class ChatEmulator:
    mode: str = "good"  # good | slow | prose | three | duplicates | error
    slow_seconds: float = 5.0
    requests: list[dict[str, object]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.complete)
        return app

    async def complete(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        body = await request.json()
        self.requests.append(body)
        if self.mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        if self.mode == "error":
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        prompt = str(body["messages"][-1]["content"])
        return web.json_response(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": self.content(prompt)}}
                ],
                "usage": {"prompt_tokens": 120, "completion_tokens": 200, "total_tokens": 320},
            }
        )

    def content(self, prompt: str) -> str:
        styles = [
            "a chunky figurine",
            "a smooth sculpture",
            "a detailed statuette",
            "a low-poly toy",
        ]
        variants = [f"{prompt}, {style}, one solid printable object" for style in styles]
        if self.mode == "prose":
            return "Here are some ideas: " + "; ".join(variants)
        if self.mode == "three":
            variants = variants[:3]
        if self.mode == "duplicates":
            variants = [variants[0]] * 4
        return json.dumps({"variants": variants}, ensure_ascii=False)
