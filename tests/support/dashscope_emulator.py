"""DashScope's asynchronous text-to-image API as documented: the submit needs
`X-DashScope-Async: enable` and answers a `task_id`; `GET /api/v1/tasks/{id}` moves PENDING →
RUNNING → SUCCEEDED (results[].url) | FAILED; errors are `{code, message, request_id}`, a
moderation refusal `DataInspectionFailed` (HTTP 400), rate limits HTTP 429 `Throttling`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import partial

from aiohttp import web

from tests.support.provider_emulation import Emulation, bearer_auth, png_bytes_of

KEY = "sk-dashscope-test"
SUBMIT = "/api/v1/services/aigc/text2image/image-synthesis"


def dashscope_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"code": code, "message": message, "request_id": str(uuid.uuid4())}, status=status
    )


@dataclass
class DashScopeEmulator:
    emulation: Emulation = field(default_factory=Emulation)
    prompts: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        refusal = partial(dashscope_error, 401, "InvalidApiKey", "Invalid API-key provided.")
        app = web.Application(middlewares=[bearer_auth(KEY, under="/api/", refusal=refusal)])
        app.router.add_post(SUBMIT, self.submit)
        app.router.add_get("/api/v1/tasks/{task_id}", self.task)
        app.router.add_get("/results/{task_id}/{name}", self.picture)
        return app

    async def submit(self, request: web.Request) -> web.Response:
        limited = dashscope_error(429, "Throttling.RateQuota", "Requests rate limit exceeded")
        if trouble := await self.emulation.trouble("submit", rate_limit=limited):
            trouble.headers["Retry-After"] = str(self.emulation.script.retry_after)
            return trouble
        if request.headers.get("X-DashScope-Async") != "enable":
            return dashscope_error(
                403, "AccessDenied", "current user api does not support synchronous calls"
            )
        body = await request.json()
        prompt = str((body.get("input") or {}).get("prompt", ""))
        if self.emulation.script.refuse:
            return dashscope_error(
                400, "DataInspectionFailed", "Input data may contain inappropriate content."
            )
        self.prompts.append(prompt)
        task = self.emulation.new_task(body)
        return web.json_response(
            {
                "output": {"task_id": task.id, "task_status": "PENDING"},
                "request_id": str(uuid.uuid4()),
            }
        )

    async def task(self, request: web.Request) -> web.Response:
        if trouble := await self.emulation.trouble("poll"):
            return trouble
        task = self.emulation.tasks.get(request.match_info["task_id"])
        if task is None:
            return web.json_response({"output": {"task_id": "", "task_status": "UNKNOWN"}})
        state = self.emulation.advance(task)
        output: dict[str, object] = {"task_id": task.id}
        usage: dict[str, object] = {}
        if state == "running" or state == "refused":
            output["task_status"] = "RUNNING" if task.polls > 1 else "PENDING"
        elif state == "expired":
            output["task_status"] = "UNKNOWN"
        elif state == "failed":
            output |= {"task_status": "FAILED", "code": "InternalError", "message": "failed"}
        else:
            base = self.emulation.base_url
            url = f"{base}/results/{task.id}/picture.png?Expires=9&Signature=s3cr3t"
            output |= {"task_status": "SUCCEEDED", "results": [{"url": url}]}
            usage = {"image_count": 1}
        return web.json_response(
            {"output": output, "usage": usage, "request_id": str(uuid.uuid4())}
        )

    async def picture(self, request: web.Request) -> web.Response:
        if request.query.get("Signature") != "s3cr3t":
            return web.Response(status=403)
        if self.emulation.script.expired_downloads > 0:
            self.emulation.script.expired_downloads -= 1
            return web.Response(status=403, text="Request has expired")
        return web.Response(body=png_bytes_of(256), content_type="image/png")
