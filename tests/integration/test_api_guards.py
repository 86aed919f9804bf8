"""What every route inherits from the registry and the middleware: it is registered (and so
documented), a success always carries JSON, a malformed id is a 404, an oversized body a JSend
413, and routes not built yet a JSend 501 after the sign-in check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import ClientResponse
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import unimplemented
from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.keys import STORAGE
from lumi_api.routing import ROUTES, RouteSpec
from lumi_api.settings import ApiSettings
from lumi_common import jsonx
from lumi_common.ids import new_id
from tests.support.api import Client, fail_images, finish_images, issue, unique_email
from tests.support.gallery import auth, completed_model
from tests.support.smtp import Inbox, request_code, smtp_server

STUBS = {(method, path) for method, path, _, _ in unimplemented.ROUTES}
Sessions = async_sessionmaker[AsyncSession]


def specs(client: Client) -> list[RouteSpec]:
    return client.app[ROUTES].specs


def url(spec: RouteSpec, values: dict[str, str], prefix: str = "/api/v1") -> str:
    path = spec.openapi_path
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return (prefix if spec.prefixed else "") + path


async def test_every_route_is_registered_with_its_description(client: Client) -> None:
    table = client.app[ROUTES]
    unregistered = [
        f"{route.method} {route.resource.canonical if route.resource else '?'}"
        for route in client.app.router.routes()
        if not table.covers(route)
    ]
    assert unregistered == []
    assert all(spec.summary for spec in specs(client))


class Walk:
    """What a route needs to succeed, made through the API (and the workers' effects), for a
    fresh user per call: a route that revokes its caller's token (logout) spoils no other."""

    def __init__(self, client: Client, sessionmaker: Sessions, inbox: Inbox) -> None:
        self.client, self.sessionmaker, self.inbox = client, sessionmaker, inbox

    async def arrange(self, spec: RouteSpec, token: IssuedToken) -> tuple[dict[str, str], Any]:
        """The path's values and the JSON body (None for GET, HEAD and DELETE)."""
        route, values = (spec.method, spec.path), {}
        for name in spec.params:
            values[name] = await self._value(name, route, token)
        body = await self._body(route, values)
        if route == ("POST", "/slices"):
            body = {"modelId": await self._completed_model(token)}
        return values, body if spec.method in ("POST", "PATCH", "PUT") else None

    async def _value(self, name: str, route: tuple[str, str], token: IssuedToken) -> str:
        if name == "webhook_id":
            made = await self.client.post(
                "/api/webhooks", json={"url": "https://hooks.example.com/walk"}, headers=auth(token)
            )
            assert made.status == 201
            return str((await made.json())["data"]["id"])
        if route == ("POST", "/tasks/{task_id}/print"):
            model = await completed_model(self.client, token, self.sessionmaker)
            return str(model["requestId"])
        if name == "slice_id":
            started = await self.client.post(
                "/api/slices",
                json={"modelId": await self._completed_model(token)},
                headers=auth(token),
            )
            assert started.status == 201
            return str((await started.json())["data"]["sliceTaskId"])
        if name == "task_id":
            task = await self._task(token)
            if route == ("PATCH", "/tasks/{task_id}"):
                await finish_images(self.sessionmaker, task)
            elif route == ("POST", "/tasks/{task_id}/retry"):
                await fail_images(self.sessionmaker, task)
            elif route == ("GET", "/tasks/{task_id}/events"):  # a finished task's stream ends
                cancel = f"/api/tasks/{task}/cancel"
                assert (await self.client.post(cancel, headers=auth(token))).status == 200
            return task
        if name == "model_id":
            return await self._completed_model(token)
        if name == "asset":
            return "docs.js"  # a file of the docs page's viewer
        if name == "stream":
            return "image"
        if name == "path":
            return "ops/ops.js"
        if name == "key":  # a listed model's file: public
            key = f"models/{await self._completed_model(token)}/model.obj"
            await self.client.app[STORAGE].put(key, b"v 0 0 0\n", "text/plain")
            return key
        return new_id()  # printers: not built yet

    async def _completed_model(self, token: IssuedToken) -> str:
        return str((await completed_model(self.client, token, self.sessionmaker))["id"])

    async def _task(self, token: IssuedToken) -> str:
        response = await self.client.post(
            "/api/tasks", json={"prompt": "a kite"}, headers=auth(token)
        )
        assert response.status == 201
        return str((await response.json())["data"]["id"])

    async def _body(self, route: tuple[str, str], values: dict[str, str]) -> Any:
        email = unique_email("walk")
        if route in (("POST", "/auth/register"), ("POST", "/auth/login")):
            return {"email": email, "code": await request_code(self.client, self.inbox, email)}
        bodies: dict[tuple[str, str], Any] = {
            ("POST", "/auth/send-code"): {"email": email, "type": "login"},
            ("POST", "/users/update"): {"nick_name": "Walker"},
            ("POST", "/tasks"): {"prompt": "a lighthouse"},
            ("POST", "/webhooks"): {"url": "https://hooks.example.com/lumi"},
            ("PATCH", "/tasks/{task_id}"): {"selectedImageIndex": 1},
            ("POST", "/tasks/{task_id}/retry"): {"type": "images"},
            ("PATCH", "/models/{model_id}"): {"name": "renamed"},
            ("PATCH", "/models/{model_id}/visibility"): {"visibility": "PRIVATE"},
            ("POST", "/gallery/models/{model_id}/interactions"): {"type": "LIKE"},
            ("POST", "/gallery/models/batch-interactions"): {"modelIds": [new_id()]},
            ("POST", "/admin/dead-letters/{stream}/replay"): {"all": True},
            ("POST", "/admin/dead-letters/{stream}/purge"): {"all": True},
        }
        return bodies.get(route, {})


def check_success(spec: RouteSpec, response: ClientResponse, raw: bytes, label: str) -> None:
    """The declared status and content type; for JSend, `data` is what the route declares."""
    assert response.status == spec.status, label
    if spec.method == "HEAD" or spec.content_type == "*/*":
        return
    assert response.content_type == spec.content_type, label
    if not spec.jsend:
        return
    body = jsonx.loads(raw)
    assert body["status"] == "success", label
    if spec.response is None:
        assert body["data"] is None, label
    else:
        spec.response.model_validate(body["data"])


async def test_every_route_succeeds_as_declared_with_a_json_body(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    sessionmaker: Sessions,
) -> None:
    """Walk every route under both prefixes as its client would, each with what it needs: it
    answers its declared status, a JSend route a JSON body whose `data` validates against the
    route's response model (so the document cannot drift from the behaviour), and the routes
    not built yet a 501."""
    async with smtp_server() as inbox:
        client = await aiohttp_client(create_app(settings_factory(**inbox.settings())))
        walk = Walk(client, sessionmaker, inbox)
        for spec in specs(client):
            for prefix in ("/api/v1", "/api"):
                # the console's page, like its routes, is an administrator's
                admin = spec.auth == "admin" or spec.path == "/ops"
                token = await issue(sessionmaker, admin=admin)
                values, body = await walk.arrange(spec, token)
                response = await client.request(
                    spec.method, url(spec, values, prefix), json=body, headers=auth(token)
                )
                raw = await response.read()
                label = f"{spec.method} {prefix}{spec.path} -> {response.status}: {raw[:300]!r}"
                if (spec.method, spec.path) in STUBS:
                    assert response.status == 501, label
                    assert jsonx.loads(raw)["code"] == "NOT_IMPLEMENTED", label
                else:
                    check_success(spec, response, raw, label)


async def test_malformed_ids_in_any_route_are_a_404(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    admin = await issue(sessionmaker, admin=True)
    checked = 0
    for spec in specs(client):
        caller = admin if spec.auth == "admin" else alice
        for bad in ("nope", "0" * 25, "8" * 26, "01ARZ3NDEKTSV4RRFFQ69G5FA!"):
            values = dict.fromkeys(spec.id_params, bad)
            if not values:
                continue
            response = await client.request(
                spec.method,
                url(spec, values),
                json={} if spec.method in ("POST", "PATCH") else None,
                headers={"Authorization": caller.header},
            )
            body = await response.json()
            assert (response.status, body["data"]["code"]) == (404, "NOT_FOUND"), spec.path
            checked += 1
    assert checked >= 4 * 8


async def test_anonymous_callers_get_401_before_any_id_is_looked_at(client: Client) -> None:
    response = await client.get("/api/tasks/nope")
    assert response.status == 401
    assert (await response.json())["data"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(("method", "path"), sorted(STUBS))
async def test_routes_not_built_yet_answer_501_after_sign_in(
    client: Client, alice: IssuedToken, method: str, path: str
) -> None:
    target = "/api" + path.replace("{task_id}", new_id()).replace("{printer_id}", new_id())
    target = target.replace("{slice_id}", new_id())
    anonymous = await client.request(method, target, json={})
    assert anonymous.status == 401
    assert (await anonymous.json())["data"]["code"] == "UNAUTHORIZED"
    signed_in = await client.request(
        method, target, json={}, headers={"Authorization": alice.header}
    )
    assert signed_in.status == 501
    body = await signed_in.json()
    assert body["status"] == "error"
    assert body["code"] == "NOT_IMPLEMENTED"
    assert body["message"]


async def test_an_oversized_body_is_a_jsend_413(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
) -> None:
    client = await aiohttp_client(create_app(settings_factory(max_body_bytes=1024)))
    response = await client.post(
        "/api/tasks",
        json={"prompt": "x" * 2000},
        headers={"Authorization": alice.header, "Origin": "http://localhost:3001"},
    )
    assert response.status == 413
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["status"] == "fail"
    assert body["data"]["code"] == "PAYLOAD_TOO_LARGE"
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3001"
