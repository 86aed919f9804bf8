"""Meshy API v2 as documented: `POST /openapi/v2/image-to-3d` (the picture as a URL or a data
URI) returns the task object; `GET /openapi/v2/tasks/{id}` moves PENDING → IN_PROGRESS →
SUCCEEDED | FAILED, results in `output.model_urls` until `expires_at`. Errors are
`{type, code, message, doc_url}`; a moderation refusal is 403 `moderation_blocked_*`."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from functools import partial

from aiohttp import web

from tests.support.provider_emulation import Emulation, Task, bearer_auth, fetch_picture

KEY = "msy_test_key"
CREDITS_PER_MODEL = 20


def meshy_error(status: int, kind: str, code: str, message: str) -> web.Response:
    body = {"type": kind, "code": code, "message": message, "doc_url": None}
    return web.json_response(body, status=status)


@dataclass
class MeshyEmulator:
    emulation: Emulation = field(default_factory=Emulation)
    images: list[bytes] = field(default_factory=list)

    def app(self) -> web.Application:
        refusal = partial(meshy_error, 401, "authentication", "invalid_api_key", "Invalid key")
        app = web.Application(middlewares=[bearer_auth(KEY, under="/openapi/", refusal=refusal)])
        app.router.add_post("/openapi/v2/image-to-3d", self.create)
        app.router.add_get("/openapi/v2/tasks/{task_id}", self.task)
        self.emulation.add_result_route(app)
        return app

    async def create(self, request: web.Request) -> web.Response:
        if trouble := await self.emulation.trouble("submit"):
            return trouble
        body = await request.json()
        image_url = str(body.get("image_url", ""))
        if image_url.startswith(("http://", "https://")):  # Meshy downloads it
            picture = await fetch_picture(image_url)
            if picture is None:
                return meshy_error(400, "invalid_input", "invalid_image_url", "cannot fetch it")
            self.images.append(picture)
            task = self.emulation.new_task(body)
            return web.json_response(self.task_object(task, "PENDING"), status=202)
        prefix, _, data = image_url.partition(";base64,")
        if not prefix.startswith("data:image/") or not data:
            return meshy_error(400, "invalid_input", "invalid_image_url", "image_url is invalid")
        if self.emulation.script.refuse:
            return meshy_error(
                403,
                "invalid_input",
                "moderation_blocked_nsfw",
                "This content can't be generated because it may not comply with our policy.",
            )
        self.images.append(base64.b64decode(data))
        task = self.emulation.new_task(body)
        return web.json_response(self.task_object(task, "PENDING"), status=202)

    async def task(self, request: web.Request) -> web.Response:
        if trouble := await self.emulation.trouble("poll"):
            return trouble
        task = self.emulation.tasks.get(request.match_info["task_id"])
        if task is None:
            return meshy_error(404, "not_found", "task_not_found", "Task not found")
        state = self.emulation.advance(task)
        status = {
            "running": "IN_PROGRESS" if task.polls > 1 else "PENDING",
            "done": "SUCCEEDED",
            "failed": "FAILED",
            "refused": "FAILED",
            "expired": "SUCCEEDED",
        }[state]
        return web.json_response(self.task_object(task, status, state=state))

    def task_object(self, task: Task, status: str, *, state: str = "") -> dict[str, object]:
        now = int(time.time() * 1000)
        done = status == "SUCCEEDED"
        error = None
        if status == "FAILED":
            code = "moderation_blocked_nsfw" if state == "refused" else "generation_failed"
            error = {"type": "task_failed", "code": code, "message": "The task failed"}
        return {
            "id": task.id,
            "type": "image-to-3d",
            "status": status,
            "progress": 100 if done else self.emulation.progress(task),
            "created_at": now,
            "finished_at": now if done else None,
            # an expired task still says SUCCEEDED, but its result lapsed an hour ago
            "expires_at": (now - 3_600_000 if state == "expired" else now + 86_400_000)
            if done
            else None,
            "preceding_tasks": 0,
            "consumed_credits": CREDITS_PER_MODEL,
            "task_error": error,
            "output": {"model_urls": {"glb": self.emulation.result_url(task)}} if done else None,
        }
