"""Who may see and change what, across the whole route registry. (Per-route ownership is also
tested beside each route: tasks 404 to other users in test_tasks_read/select/control, models
403 in test_models_manage, tampered cookies in test_auth_session, code lockout in
test_auth_login.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth import service as auth_service
from lumi_api.auth.service import IssuedToken
from lumi_api.routing import ROUTES, RouteSpec
from lumi_common.ids import new_id
from lumi_common.time import utcnow
from tests.support.api import Client, issue, unique_email
from tests.support.gallery import auth, completed_model

Sessions = async_sessionmaker[AsyncSession]
UNAUTHORIZED = {"status": "fail", "data": {"message": "请先登录", "code": "UNAUTHORIZED"}}


async def call(client: Client, spec: RouteSpec, header: str) -> tuple[int, Any]:
    path = spec.openapi_path
    for name in spec.params:
        path = path.replace("{" + name + "}", new_id() if name != "key" else "images/x/0.png")
    response = await client.request(
        spec.method,
        ("/api" if spec.prefixed else "") + path,
        json={} if spec.method in ("POST", "PATCH") else None,
        headers={"Authorization": header},
    )
    return response.status, await response.json() if response.content_type.endswith(
        "json"
    ) else None


async def dead_tokens(sessionmaker: Sessions) -> dict[str, IssuedToken]:
    expired = await issue(sessionmaker, ttl=timedelta(seconds=-1))
    email = unique_email()
    revoked = await issue(sessionmaker, email=email)
    async with sessionmaker.begin() as session:
        await auth_service.revoke_all(session, email=email, now=utcnow())
    return {"expired": expired, "revoked": revoked}


async def test_expired_and_revoked_tokens_are_a_401_on_required_routes_only(
    client: Client, sessionmaker: Sessions
) -> None:
    """Required routes answer the exact 401 the apps recognise; optional and public ones serve
    the caller anonymously (a 401 there would open the web app's login modal)."""
    specs = client.app[ROUTES].specs
    for kind, token in (await dead_tokens(sessionmaker)).items():
        for spec in specs:
            status, body = await call(client, spec, token.header)
            label = f"{kind} token: {spec.method} {spec.path} -> {status}"
            if spec.auth in ("required", "admin"):
                assert (status, body) == (401, UNAUTHORIZED), label
            else:
                assert status != 401, label
                if spec.path == "/auth/me":
                    assert body["data"] == {"status": "unauthenticated", "user": None}


async def test_a_model_made_private_is_gone_for_everyone_but_its_owner(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    model = (await completed_model(client, alice, sessionmaker))["id"]
    for kind in ("LIKE", "FAVORITE"):  # bob interacted while it was public
        liked = await client.post(
            f"/api/gallery/models/{model}/interactions", json={"type": kind}, headers=auth(bob)
        )
        assert liked.status == 200
    hidden = await client.patch(
        f"/api/models/{model}/visibility", json={"visibility": "PRIVATE"}, headers=auth(alice)
    )
    assert hidden.status == 200
    reads = [
        ("GET", f"/api/gallery/models/{model}", None),
        ("GET", f"/api/gallery/models/{model}/interactions", None),
        ("POST", f"/api/gallery/models/{model}/interactions", {"type": "LIKE"}),
        ("POST", f"/api/gallery/models/{model}/download", {}),
    ]
    for method, path, body in reads:
        for headers in (auth(bob), {}):
            response = await client.request(method, path, json=body, headers=headers)
            expected = 404 if headers or method == "GET" else 401
            assert response.status == expected, (method, path, headers)
        own = await client.request(method, path, json=body, headers=auth(alice))
        assert own.status == 200, (method, path)
    batch = await client.post(
        "/api/gallery/models/batch-interactions", json={"modelIds": [model]}, headers=auth(bob)
    )
    # bob's own old states of it are his to see; nothing about the model itself leaks
    assert set((await batch.json())["data"]["interactions"][model]) == {"isLiked", "isFavorited"}
    for path in ("favorites", "likes"):
        listed = await client.get(f"/api/users/{path}", headers=auth(bob))
        assert model not in [item["id"] for item in (await listed.json())["data"]]


@pytest.mark.parametrize("path", ["favorites", "likes", "my-models", "models"])
async def test_a_users_lists_are_the_callers_whatever_the_query_says(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions, path: str
) -> None:
    model = (await completed_model(client, alice, sessionmaker))["id"]
    for kind in ("LIKE", "FAVORITE"):
        await client.post(
            f"/api/gallery/models/{model}/interactions", json={"type": kind}, headers=auth(alice)
        )
    mine = await client.get(f"/api/users/{path}", headers=auth(alice))
    assert model in _ids((await mine.json())["data"])
    for query in ("", f"userId={alice.user_id}", f"user_id={alice.user_id}&externalUserId=x"):
        theirs = await client.get(f"/api/users/{path}?{query}", headers=auth(bob))
        assert theirs.status == 200
        assert _ids((await theirs.json())["data"]) == [], query


def _ids(data: Any) -> list[str]:
    items = data if isinstance(data, list) else data["items"]
    return [item["id"] for item in items]
