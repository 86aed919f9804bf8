"""Replay every call of the apps' machine-readable call list (contract §5), web and mobile
entries separately, as each app sends it: its path, its query and body fields, and
`Authorization` exactly as login's `data.token` gave it. Every field the app reads must be
there with a sensible type; a 2xx is JSON JSend; a required route answers anonymous and made-up
tokens with the exact 401 the apps recognise; an optional one serves them anonymously.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import yaml

from lumi_common.ids import new_id
from lumi_common.time import iso_ms, parse_iso
from tests.contract.fields import check, walk
from tests.contract.world import Reply, World

CALLS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "clients_calls.json").read_text(encoding="utf-8")
)
UNAUTHORIZED = {"status": "fail", "data": {"message": "请先登录", "code": "UNAUTHORIZED"}}
MADE_UP = "Bearer not-a-token-we-issued"
OPEN_HINTS = ("optional", "ISO")
NOT_BUILT = ("/api/printers", "/api/devices")
# reads of a finished resource: only the really optional fields may be null
FINISHED = {("GET", "/api/tasks/:id"), ("GET", "/api/tasks/:id/status"), ("GET", "/api/auth/me")}
FINISHED |= {("GET", "/api/gallery/models/:id")}


def label(call: dict[str, Any]) -> str:
    return f"{call['client']} {call['method']} {call['path']}"


class Replay:
    """Turns a call of the list into the request its app sends, with the resources it needs."""

    def __init__(self, world: World, call: dict[str, Any]) -> None:
        self.world, self.call = world, call
        self.client = call["client"]

    @property
    def token(self) -> str:
        return self.world.accounts[self.client].token

    async def path(self) -> str:
        method, path = self.call["method"], str(self.call["path"])
        if ":sliceTaskId" in path:
            return path.replace(":sliceTaskId", await self.world.slice_task(self.client))
        if path.startswith("/api/printers/:id"):
            return path.replace(":id", new_id())
        if path.startswith("/api/gallery/models/:id"):
            return path.replace(":id", self.world.shared_model)
        if path.startswith("/api/models/:id"):
            if method == "DELETE":
                return path.replace(":id", (await self.world.completed_task(self.client))[1])
            return path.replace(":id", self.world.own_models[self.client])
        if path.startswith("/api/tasks/:id"):
            return path.replace(":id", await self._task(method, path))
        return path

    async def _task(self, method: str, path: str) -> str:
        if method == "PATCH":
            return await self.world.selectable_task(self.client)
        if method == "DELETE":
            return await self.world.new_task(self.client)
        if path.endswith("/retry"):
            return await self.world.model_failed_task(self.client)
        if path.endswith("/print"):  # a model of its own: `POST /slices` slices the usual one
            return (await self.world.completed_task(self.client))[0]
        return self.world.done_tasks[self.client]

    def query(self) -> str:
        """`?name=value` for each query field the app sends (`since`: see the 304 test)."""
        defaults, pairs = self.values(), []
        for item in self.call["request_fields"]:
            name, value = _field(item, "query.")
            if name and name != "since":
                pairs.append(f"{name}={value if value is not None else defaults[name]}")
        return "?" + "&".join(pairs) if pairs else ""

    async def body(self) -> Any:
        """The JSON body with exactly the fields the app sends."""
        if self.call["method"] not in ("POST", "PATCH"):
            return None
        defaults, body = self.values(), dict[str, Any]()
        for item in self.call["request_fields"]:
            name, value = _field(item, "body.")
            if name:
                body[name.removesuffix("[]")] = value if value is not None else defaults[name]
        if "code" in body and self.call["path"].startswith("/api/auth/"):
            body["code"] = await self._code(body["email"])
        return body

    async def _code(self, email: str) -> str:
        """A real code from the mailbox; mobile registers, then logs in with the same code
        at once (contract §0 rule 15)."""
        path, world = self.call["path"], self.world
        mobile = self.client == "mobile"
        code = await world.code(
            email, "register" if path.endswith("register") or mobile else "login"
        )
        if path.endswith("login") and mobile:
            registered = await world.call(
                "POST", "/api/auth/register", json={"email": email, "code": code}
            )
            assert registered.status == 200, registered.raw
        return code

    def values(self) -> dict[str, Any]:
        """What the app would put in each field the list names without a value."""
        world = self.world
        known = [world.shared_model, world.own_models[self.client]]
        limit = 100 if self.client == "mobile" else 20
        return {
            "email": f"{self.client}-{new_id().lower()}@example.com",
            "code": "123456",
            "id": world.accounts[self.client].user_id,
            "nick_name": "小明",
            "prompt": "一只戴帽子的小猫",
            "selectedImageIndex": 2,
            "modelIds[]": known + [new_id() for _ in range(limit - len(known))],
            "modelId": world.own_models[self.client],
            "taskName": "a print",
            "deviceName": "Bambu A1",
            "page": 1,
            "pageSize": 20,
            "limit": 20,
            "offset": 0,
            "sort": "latest",
            "category": "figurine",
        }

    async def headers_token(self) -> str | None:
        if self.call["auth"] == "none":
            return None
        if self.call["path"] == "/api/auth/logout":  # it revokes the token: another device's
            return await self.world.fresh_token(self.client)
        return self.token


async def send(world: World, call: dict[str, Any]) -> tuple[Replay, str, Reply]:
    replay = Replay(world, call)
    target = await replay.path() + replay.query()
    if call["path"] == "/api/gallery/models/:id/interactions" and call["method"] == "POST":
        target = target.replace(world.shared_model, world.own_models[replay.client])
    reply = await world.call(
        call["method"], target, token=await replay.headers_token(), json=await replay.body()
    )
    return replay, target, reply


def _field(item: str, prefix: str) -> tuple[str, str | None]:
    """`body.type(LIKE|FAVORITE)` → ("type", "LIKE"), `query.limit(20)` → ("limit", "20"): the
    first value the list gives; None when it gives a rule instead (`2-500`, `optional`)."""
    if not item.startswith(prefix):
        return "", None
    name, _, hint = item.removeprefix(prefix).partition("(")
    first = hint.rstrip(")").split(",")[0].split("|")[0].strip().strip('"')
    if first.isdigit() or (re.fullmatch(r"[A-Za-z_]+", first) and first not in OPEN_HINTS):
        return name, first
    return name, None


API_CALLS = [call for call in CALLS if call["path"].startswith("/api/")]
FILE_CALLS = [call for call in CALLS if not call["path"].startswith("/api/")]


@pytest.mark.parametrize("call", API_CALLS, ids=label)
async def test_each_call_answers_what_its_app_reads(world: World, call: dict[str, Any]) -> None:
    _, target, reply = await send(world, call)
    where = f"{label(call)} ({target}) -> {reply.status}: {reply.raw[:400]!r}"
    if any(part in call["path"] for part in NOT_BUILT):
        assert reply.status == 501, where
        assert reply.content_type == "application/json", where
        assert (reply.body["status"], reply.body["code"]) == ("error", "NOT_IMPLEMENTED"), where
        return
    if call["path"] == "/api/openapi":
        assert (reply.status, reply.content_type) == (200, "application/yaml"), where
        assert yaml.safe_load(reply.raw)["openapi"].startswith("3.1"), where
        return
    assert 200 <= reply.status < 300, where
    assert reply.content_type == "application/json", where
    assert reply.body["status"] == "success", where
    data = reply.body["data"]
    finished = (call["method"], call["path"]) in FINISHED
    for path in call["response_fields_read"]:
        if path.startswith("HTTP 304"):
            continue
        checked = 0
        for name, value in walk(data, path):
            check(name, value, base=world.base, filled=finished)
            checked += 1
        # only whole-shape paths and optional fields may check no value
        assert checked or path.endswith(("(optional)", "[]", "(plain array)")), (where, path)
    await _then(world, call, data)


async def _then(world: World, call: dict[str, Any], data: Any) -> None:
    """What else the app relies on in this answer."""
    route = (call["method"], call["path"])
    if route == ("GET", "/api/auth/me"):
        assert data["status"] == "authenticated"
    elif route in (("GET", "/api/tasks/:id"), ("GET", "/api/tasks/:id/status")):
        assert (data["status"], data["phase"]) == ("COMPLETED", "COMPLETED")
        assert data["model"]["generationJob"] == {
            "id": data["model"]["generationJob"]["id"],
            "status": "COMPLETED",
            "progress": 100,
        }
        assert {image["imageStatus"] for image in data["images"]} == {"COMPLETED"}
    elif route == ("POST", "/api/tasks"):
        assert (data["status"], data["model"]) == ("IMAGE_PENDING", None)
        assert [image["imageStatus"] for image in data["images"]] == ["PENDING"] * 4
    elif route == ("PATCH", "/api/tasks/:id"):
        assert data["task"]["status"] == "MODEL_PENDING"
        assert data["model"]["generationJob"]["status"] == "QUEUED"
    elif call["path"] == "/api/gallery/models/batch-interactions":
        assert data["interactions"][world.shared_model] == {"isLiked": True, "isFavorited": True}
    elif call["path"] in ("/api/users/favorites", "/api/users/likes"):
        assert world.shared_model in [model["id"] for model in data]
    elif route == ("POST", "/api/tasks/:id/retry"):
        assert data["status"] == "MODEL_PENDING"
    elif route == ("POST", "/api/slices"):
        assert data["sliceStatus"] == "PROCESSING"


@pytest.mark.parametrize("call", [c for c in API_CALLS if c["path"].endswith("/status")], ids=label)
async def test_status_polls_with_since_get_304_until_something_changes(
    world: World, call: dict[str, Any]
) -> None:
    """Web resends `new Date(updatedAt).toISOString()`, mobile the raw string: both get an
    empty 304 while nothing changed, and the full task once something did."""
    task_id = await world.new_task(call["client"])
    token = world.accounts[call["client"]].token
    first = await world.call("GET", f"/api/tasks/{task_id}/status", token=token)
    assert first.status == 200
    updated = first.body["data"]["updatedAt"]
    since = iso_ms(parse_iso(updated)) if call["client"] == "web" else updated
    unchanged = await world.call("GET", f"/api/tasks/{task_id}/status?since={since}", token=token)
    assert (unchanged.status, unchanged.raw) == (304, b"")
    await world.run_images()
    changed = await world.call("GET", f"/api/tasks/{task_id}/status?since={since}", token=token)
    assert changed.status == 200
    assert changed.body["data"]["status"] == "IMAGE_COMPLETED"
    assert changed.body["data"]["updatedAt"] > updated


@pytest.mark.parametrize("call", [c for c in API_CALLS if c["auth"] == "req"], ids=label)
async def test_required_calls_answer_the_exact_401_without_a_valid_token(
    world: World, call: dict[str, Any]
) -> None:
    path = call["path"].replace(":sliceTaskId", new_id()).replace(":id", new_id())
    body: dict[str, Any] | None = {} if call["method"] in ("POST", "PATCH") else None
    for token in (None, MADE_UP, "Bearer ", "garbage"):
        reply = await world.call(call["method"], path, token=token, json=body)
        assert (reply.status, reply.body) == (401, UNAUTHORIZED), (label(call), token)
        assert reply.content_type == "application/json"


@pytest.mark.parametrize("call", [c for c in API_CALLS if c["auth"] == "opt"], ids=label)
async def test_optional_calls_serve_a_made_up_token_anonymously(
    world: World, call: dict[str, Any]
) -> None:
    replay = Replay(world, call)
    target = await replay.path() + replay.query()
    for token in (MADE_UP, "garbage", None):
        reply = await world.call(call["method"], target, token=token, json=await replay.body())
        assert reply.status == 200, (label(call), token, reply.raw)
        data = reply.body["data"]
        if call["path"] == "/api/auth/me":
            assert data == {"status": "unauthenticated", "user": None}
        elif "interactions" in call["path"]:
            assert data["isAuthenticated"] is False


@pytest.mark.parametrize("call", FILE_CALLS, ids=label)
async def test_file_urls_are_absolute_and_public_with_any_origin(
    world: World, call: dict[str, Any]
) -> None:
    """Image, OBJ, MTL and the textures the MTL names: a plain GET of the URL the API gave, no
    token, readable cross-origin (`Access-Control-Allow-Origin: *`)."""
    token = world.accounts[call["client"]].token
    task = await world.call("GET", f"/api/tasks/{world.done_tasks[call['client']]}", token=token)
    data = task.body["data"]
    if "image" in call["path"]:
        urls = [image["imageUrl"] for image in data["images"]] + [data["model"]["previewImageUrl"]]
        expected = dict.fromkeys(urls, b"\x89PNG")
    else:
        model = data["model"]
        mtl = await world.call("GET", model["mtlUrl"])
        textures = [
            urljoin(model["mtlUrl"], line.split()[-1])
            for line in mtl.raw.decode().splitlines()
            if line.strip().startswith(("map_", "bump"))
        ]
        assert textures, "the MTL names no texture"
        expected = {model["modelUrl"]: b"", model["mtlUrl"]: b"", model["textureUrl"]: b"\x89PNG"}
        expected |= dict.fromkeys(textures, b"\x89PNG")
    for url in expected:
        assert url.startswith(world.base + "/files/"), url
        got = await world.call("GET", url, headers={"Origin": "https://lumi.example.com"})
        assert got.status == 200, url
        assert got.headers["Access-Control-Allow-Origin"] == "*", url
        assert got.raw, url
        assert got.raw.startswith(expected[url]), url
        if url == data["model"].get("modelUrl"):  # OBJ text the mobile OBJLoader parses
            assert got.content_type == "text/plain" or "obj" in got.content_type, got.content_type
            assert any(line.startswith("v ") for line in got.raw.decode().splitlines())


@pytest.mark.parametrize(("client", "wrong"), [("web", "000000"), ("mobile", "0000")])
async def test_a_wrong_code_is_a_400_invalid_code_never_a_401(
    world: World, client: str, wrong: str
) -> None:
    """A 401 would make the web app take it for an expired session and hang its login form."""
    email = f"{client}-{new_id().lower()}@example.com"
    code = await world.code(email)
    wrong = wrong if wrong != code[: len(wrong)] else "9" * len(wrong)
    for path in ("/api/auth/register", "/api/auth/login"):
        reply = await world.call("POST", path, json={"email": email, "code": wrong})
        assert reply.status == 400, reply.raw
        assert reply.body["status"] == "fail"
        assert reply.body["data"]["code"] == "INVALID_CODE"
