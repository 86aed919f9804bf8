"""A webhook receiver for tests: a local HTTP server that verifies every delivery with the
`standardwebhooks` package (an implementation independent of ours) and answers with the
statuses it is told to, in order (then 200)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from lumi_common import jsonx
from tests.support.processes import free_port


@dataclass
class Hook:
    """One path of the receiver: its secret, the answers it gives, what it received."""

    secret: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)  # verified, in order
    refused: int = 0  # deliveries whose signature did not verify

    @property
    def succeeded(self) -> list[dict[str, Any]]:
        return [entry for entry in self.received if entry["answered"] == 200]


@dataclass
class Receiver:
    port: int
    hooks: dict[str, Hook]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


@asynccontextmanager
async def webhook_receiver(*paths: str, port: int | None = None) -> AsyncIterator[Receiver]:
    hooks = {path: Hook() for path in paths}

    async def receive(request: web.Request) -> web.Response:
        hook = hooks[request.match_info["path"]]
        body = await request.read()
        try:
            payload = Webhook(hook.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            hook.refused += 1
            return web.Response(status=400)
        status = hook.answers.pop(0) if hook.answers else 200
        hook.received.append(
            {"id": request.headers["webhook-id"], "payload": payload, "answered": status}
        )
        assert jsonx.loads(body) == payload
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/{path}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    port = port or free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield Receiver(port, hooks)
    finally:
        await runner.cleanup()
