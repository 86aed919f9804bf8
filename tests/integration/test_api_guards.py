"""What every route inherits from the registry and the middleware: it is registered (and so
documented), a success always carries JSON, a malformed id is a 404, an oversized body a JSend
413, and routes not built yet a JSend 501 after the sign-in check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import unimplemented
from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.keys import STORAGE
from lumi_api.routing import ROUTES, RouteSpec
from lumi_api.settings import ApiSettings
from lumi_common.ids import new_id
from tests.support.api import Client, finish_images

# a valid body per route that takes one (anything else sends `{}`)
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/tasks"): {"prompt": "a lighthouse"},
    ("PATCH", "/tasks/{task_id}"): {"selectedImageIndex": 1},
    ("POST", "/tasks/{task_id}/retry"): {"type": "images"},
}
STUBS = {(method, path) for method, path, _, _ in unimplemented.ROUTES}


def specs(client: Client) -> list[RouteSpec]:
    return client.app[ROUTES].specs


async def new_task(client: Client, token: IssuedToken) -> str:
    response = await client.post(
        "/api/tasks", json={"prompt": "a kite"}, headers={"Authorization": token.header}
    )
    assert response.status == 201
    return str((await response.json())["data"]["id"])


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


async def test_every_success_of_every_route_is_a_json_body(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The web app calls `response.json()` on every 2xx: walk every route, as its client would."""
    key = "images/" + new_id() + "/0.png"
    await client.app[STORAGE].put(key, b"\x89PNG", "image/png")
    successes = []
    for spec in specs(client):
        task_id = await new_task(client, alice)
        if spec.method == "PATCH":
            await finish_images(sessionmaker, task_id)
        values = dict.fromkeys(spec.id_params, task_id) | {"key": key}
        body = BODIES.get((spec.method, spec.path), {})
        for prefix in ("/api/v1", "/api"):
            response = await client.request(
                spec.method,
                url(spec, values, prefix),
                json=body if spec.method in ("POST", "PATCH") else None,
                headers={"Authorization": alice.header},
            )
            raw = await response.read()
            label = f"{spec.method} {spec.path} -> {response.status}"
            assert response.status < 500 or (spec.method, spec.path) in STUBS, label
            if 200 <= response.status < 300 and spec.jsend:
                assert response.content_type == "application/json", label
                assert (await response.json())["status"] == "success", label
                successes.append((spec.method, spec.path))
            elif response.status != 304:
                assert raw, label
    # most routes were reached for real (the rest answered a JSON 409 or 501)
    assert len(set(successes)) >= 9, successes


async def test_malformed_ids_in_any_route_are_a_404(client: Client, alice: IssuedToken) -> None:
    checked = 0
    for spec in specs(client):
        for bad in ("nope", "0" * 25, "8" * 26, "01ARZ3NDEKTSV4RRFFQ69G5FA!"):
            values = dict.fromkeys(spec.id_params, bad)
            if not values:
                continue
            response = await client.request(
                spec.method,
                url(spec, values),
                json=BODIES.get((spec.method, spec.path), {}),
                headers={"Authorization": alice.header},
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
