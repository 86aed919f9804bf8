"""Tripo API v3 as documented: upload (`POST /v3/files`), `POST /v3/generation/image-to-model`
→ `task_id`, `GET /v3/tasks/{id}` with queued/running/success/failed/cancelled/banned/expired.
Answers are `{"code": 0, "data": …}`; errors `{"code": <non-zero>, "message": …}`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import partial

from aiohttp import web

from tests.support.provider_emulation import Emulation, bearer_auth

KEY = "tsk_test_key"
CREDITS_PER_MODEL = 30


@dataclass
class TripoEmulator:
    emulation: Emulation = field(default_factory=Emulation)
    files: dict[str, bytes] = field(default_factory=dict)
    images: list[bytes] = field(default_factory=list)  # pictures of submitted tasks

    def app(self) -> web.Application:
        refusal = partial(web.json_response, {"code": 1002, "message": "Bad key"}, status=401)
        app = web.Application(middlewares=[bearer_auth(KEY, under="/v3/", refusal=refusal)])
        app.router.add_post("/v3/files", self.upload)
        app.router.add_post("/v3/generation/image-to-model", self.generate)
        app.router.add_get("/v3/tasks/{task_id}", self.task)
        self.emulation.add_result_route(app)
        return app

    async def upload(self, request: web.Request) -> web.Response:
        if trouble := await self.emulation.trouble("upload"):
            return trouble
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return web.json_response({"code": 2002, "message": "file is required"}, status=400)
        token = secrets.token_hex(8)
        self.files[token] = upload.file.read()
        return web.json_response({"code": 0, "data": {"file_token": token}})

    async def generate(self, request: web.Request) -> web.Response:
        if trouble := await self.emulation.trouble("submit"):
            return trouble
        body = await request.json()
        if body.get("input") not in self.files:
            return web.json_response({"code": 2002, "message": "unknown input"}, status=400)
        self.images.append(self.files[body["input"]])
        task = self.emulation.new_task(body)
        return web.json_response({"code": 0, "data": {"task_id": task.id}})

    async def task(self, request: web.Request) -> web.Response:
        if trouble := await self.emulation.trouble("poll"):
            return trouble
        task = self.emulation.tasks.get(request.match_info["task_id"])
        if task is None:
            return web.json_response({"code": 2001, "message": "task not found"}, status=404)
        state = self.emulation.advance(task)
        status = {
            "running": "running" if task.polls > 1 else "queued",
            "done": "success",
            "failed": "failed",
            "refused": "banned",
            "expired": "expired",
        }[state]
        data: dict[str, object] = {
            "task_id": task.id,
            "type": "image_to_model",
            "status": status,
            "progress": 100 if state == "done" else self.emulation.progress(task),
            "output": {},
        }
        if state == "done":
            data["output"] = {
                "model_url": self.emulation.result_url(task),
                "rendered_image_url": self.emulation.result_url(task, "preview.webp"),
            }
            data["credits_consumed"] = CREDITS_PER_MODEL
        return web.json_response({"code": 0, "data": data})
