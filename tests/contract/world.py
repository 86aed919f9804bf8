"""What the two apps find on the server when they make their calls: accounts made through the real
login flow (codes received by a local SMTP server), and tasks and models made by the real workers'
handlers (offline pictures and relief meshes), so every field the apps read is really filled.

The API runs on a real port whose address is its `PUBLIC_BASE_URL`, so the absolute file URLs it
returns can be fetched as the apps fetch them: a plain GET, no token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from lumi_common import jsonx
from lumi_common.storage import LocalStorage
from lumi_image_worker.providers.images import OfflineImageGenerator
from lumi_model_worker.providers.meshes import MeshGenerator, OfflineReliefGenerator
from tests.support.smtp import Inbox
from tests.support.workers import BrokenMeshes, Workers

CLIENTS = ("web", "mobile")


@dataclass
class Reply:
    status: int
    headers: Any
    content_type: str
    raw: bytes

    @property
    def body(self) -> Any:
        return jsonx.loads(self.raw)


@dataclass
class Account:
    email: str
    token: str  # `data.token` exactly as login returned it: the apps send it back unchanged
    user_id: str


@dataclass
class World:
    base: str  # http://127.0.0.1:<port>, the API's PUBLIC_BASE_URL
    http: aiohttp.ClientSession
    inbox: Inbox
    workers: Workers
    relief_dir: Path
    accounts: dict[str, Account] = field(default_factory=dict)
    done_tasks: dict[str, str] = field(default_factory=dict)  # client → a COMPLETED task
    own_models: dict[str, str] = field(default_factory=dict)  # client → its completed model
    shared_model: str = ""  # another user's public model, liked and favoured by both apps
    slices: dict[str, str] = field(default_factory=dict)  # client → a slice of its own

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request as the apps send it: `Authorization: <token>` verbatim, JSON bodies."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = token
        url = path if path.startswith("http") else self.base + path
        async with self.http.request(method, url, json=json, headers=sent) as response:
            raw = await response.read()
            return Reply(response.status, response.headers, response.content_type, raw)

    # -- accounts ------------------------------------------------------------------------------

    async def code(self, email: str, purpose: str = "login") -> str:
        sent = await self.call(
            "POST", "/api/auth/send-code", json={"email": email, "type": purpose}
        )
        assert sent.status == 200, sent.raw
        return self.inbox.code_for(email)

    async def log_in(self, email: str | None = None, *, register_first: bool = False) -> Account:
        """Send-code and login; mobile registers first and logs in with the same code."""
        email = email or f"{secrets.token_hex(5)}@example.com"
        code = await self.code(email, "register" if register_first else "login")
        if register_first:
            registered = await self.call(
                "POST", "/api/auth/register", json={"email": email, "code": code}
            )
            assert registered.status == 200, registered.raw
        login = await self.call("POST", "/api/auth/login", json={"email": email, "code": code})
        assert login.status == 200, login.raw
        token = login.body["data"]["token"]
        me = await self.call("GET", "/api/auth/me", token=token)
        return Account(email, token, me.body["data"]["user"]["id"])

    async def fresh_token(self, client: str) -> str:
        """Another token of the same user (a second device), for calls that revoke theirs."""
        return (await self.log_in(self.accounts[client].email)).token

    # -- tasks and models ----------------------------------------------------------------------

    async def new_task(self, client: str, prompt: str = "一只戴帽子的小猫") -> str:
        created = await self.call(
            "POST", "/api/tasks", token=self.accounts[client].token, json={"prompt": prompt}
        )
        assert created.status == 201, created.raw
        return str(created.body["data"]["id"])

    async def select(self, client: str, task_id: str, index: int = 0) -> str:
        chosen = await self.call(
            "PATCH",
            f"/api/tasks/{task_id}",
            token=self.accounts[client].token,
            json={"selectedImageIndex": index},
        )
        assert chosen.status == 200, chosen.raw
        return str(chosen.body["data"]["model"]["id"])

    async def run_images(self) -> None:
        await self.workers.images(OfflineImageGenerator())

    async def run_models(self, meshes: MeshGenerator | None = None) -> None:
        await self.workers.models(meshes or OfflineReliefGenerator(LocalStorage(self.relief_dir)))

    async def selectable_task(self, client: str) -> str:
        task_id = await self.new_task(client)
        await self.run_images()
        return task_id

    async def completed_task(self, client: str) -> tuple[str, str]:
        """A task through both workers: its id and its completed model's."""
        task_id = await self.selectable_task(client)
        model_id = await self.select(client, task_id)
        await self.run_models()
        return task_id, model_id

    async def model_failed_task(self, client: str) -> str:
        task_id = await self.selectable_task(client)
        await self.select(client, task_id)
        await self.run_models(BrokenMeshes())
        return task_id

    async def slice_task(self, client: str) -> str:
        """A slice of a completed model of the client's own (not `own_models`', which the
        app's `POST /slices` call slices)."""
        if client not in self.slices:
            _, model_id = await self.completed_task(client)
            started = await self.call(
                "POST", "/api/slices", token=self.accounts[client].token, json={"modelId": model_id}
            )
            assert started.status == 201, started.raw
            self.slices[client] = str(started.body["data"]["sliceTaskId"])
        return self.slices[client]

    async def populate(self) -> None:
        """Both apps' users with a completed task each; an author whose public model both
        like and favour. The workers run once for all of them."""
        self.accounts["web"] = await self.log_in()
        self.accounts["mobile"] = await self.log_in(register_first=True)
        self.accounts["author"] = await self.log_in()
        tasks = {name: await self.new_task(name) for name in self.accounts}
        await self.run_images()
        models = {name: await self.select(name, task) for name, task in tasks.items()}
        await self.run_models()
        for client in CLIENTS:
            self.done_tasks[client], self.own_models[client] = tasks[client], models[client]
        self.shared_model = models["author"]
        for client in CLIENTS:
            for kind in ("LIKE", "FAVORITE"):
                toggled = await self.call(
                    "POST",
                    f"/api/gallery/models/{self.shared_model}/interactions",
                    token=self.accounts[client].token,
                    json={"type": kind},
                )
                assert toggled.status == 200, toggled.raw
