"""`/api/auth/me` stats from real rows, in a constant number of statements; `/api/users/update`."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import texts
from lumi_api.auth.service import IssuedToken
from lumi_api.keys import ENGINE
from lumi_common.db.tables import GenerationRequest, Model, ModelInteraction
from lumi_common.ids import new_id
from lumi_common.states import InteractionType, RequestStatus, Visibility
from tests.support.api import Client, issue
from tests.support.language import problem, said
from tests.support.queries import counting_statements
from tests.support.smtp import post

LOGIN_REQUIRED = {"status": "fail", "data": {"message": "请先登录", "code": "UNAUTHORIZED"}}


async def me(client: Client, token: IssuedToken) -> Any:
    response = await client.get("/api/auth/me", headers={"Authorization": token.header})
    assert response.status == 200
    body = await response.json()
    assert body["data"]["status"] == "authenticated"
    return body["data"]["user"]


async def add_model(
    session: AsyncSession,
    owner: str,
    visibility: Visibility,
    *,
    likes: int = 0,
    favorites: int = 0,
    views: int = 0,
    downloads: int = 0,
) -> str:
    model = Model(
        id=new_id(),
        user_id=owner,
        name="a model",
        visibility=visibility,
        like_count=likes,
        favorite_count=favorites,
        view_count=views,
        download_count=downloads,
    )
    session.add(model)
    await session.flush()
    return model.id


def add_requests(session: AsyncSession, owner: str, *statuses: RequestStatus) -> None:
    for status in statuses:
        session.add(
            GenerationRequest(id=new_id(), user_id=owner, original_prompt="p", status=status)
        )


def interact(session: AsyncSession, user: str, model: str, kind: InteractionType) -> None:
    session.add(ModelInteraction(id=new_id(), user_id=user, model_id=model, type=kind))


async def fill(sessionmaker: async_sessionmaker[AsyncSession], user: str, other: str) -> None:
    public, private = Visibility.PUBLIC, Visibility.PRIVATE
    like, favorite = InteractionType.LIKE, InteractionType.FAVORITE
    async with sessionmaker.begin() as session:
        mine = await add_model(session, user, public, likes=3, favorites=2, views=10, downloads=1)
        await add_model(session, user, public, likes=1, views=5, downloads=2)
        # a private model's counters are not the user's public reach (as in the old service)
        await add_model(session, user, private, likes=7, favorites=7, views=7, downloads=7)
        theirs = await add_model(session, other, public, likes=100, favorites=100, views=100)
        interact(session, user, theirs, like)
        interact(session, user, mine, like)
        interact(session, user, theirs, favorite)
        interact(session, other, mine, like)  # given to the user, not by them
        interact(session, other, mine, favorite)
        add_requests(
            session,
            user,
            RequestStatus.COMPLETED,
            RequestStatus.COMPLETED,
            RequestStatus.IMAGE_FAILED,
            RequestStatus.MODEL_FAILED,
            RequestStatus.FAILED,
            RequestStatus.IMAGE_PENDING,
            RequestStatus.CANCELLED,
        )
        add_requests(session, other, RequestStatus.COMPLETED, RequestStatus.FAILED)


async def test_me_stats_count_the_users_rows(
    client: Client,
    sessionmaker: async_sessionmaker[AsyncSession],
    alice: IssuedToken,
    bob: IssuedToken,
) -> None:
    await fill(sessionmaker, alice.user_id, bob.user_id)
    assert (await me(client, alice))["stats"] == {
        "totalModels": 3,
        "publicModels": 2,
        "privateModels": 1,
        "totalLikes": 4,
        "totalFavorites": 2,
        "totalViews": 15,
        "totalDownloads": 3,
        "likedModelsCount": 2,
        "favoritedModelsCount": 1,
        "totalRequests": 7,
        "completedRequests": 2,
        "failedRequests": 3,
    }
    bob_stats = (await me(client, bob))["stats"]
    assert (bob_stats["totalModels"], bob_stats["totalLikes"], bob_stats["totalViews"]) == (
        1,
        100,
        100,
    )
    assert (bob_stats["likedModelsCount"], bob_stats["favoritedModelsCount"]) == (1, 1)
    assert (bob_stats["totalRequests"], bob_stats["failedRequests"]) == (2, 1)


async def test_me_takes_two_statements_however_many_rows(
    uncached_client: Client, sessionmaker: async_sessionmaker[AsyncSession], alice: IssuedToken
) -> None:
    """One to resolve the token (when it is not cached), one for the user and every stat."""
    client = uncached_client
    empty = await issue(sessionmaker)
    await fill(sessionmaker, alice.user_id, empty.user_id)
    counts = []
    for token in (empty, alice):
        await me(client, token)  # records the token's use (at most once a minute)
        engine = client.app[ENGINE]  # the app's own engine
        with counting_statements(engine) as statements:
            await me(client, token)
        counts.append(len(statements))
    assert counts == [2, 2]


async def update(client: Client, token: IssuedToken | None, body: Any) -> tuple[int, Any]:
    headers = {} if token is None else {"Authorization": token.header}
    return await post(client, "/api/users/update", body, headers=headers)


UPDATED = (200, {"status": "success", "data": {"message": said(texts.PROFILE_UPDATED)}})


async def test_web_updates_its_nickname(client: Client, alice: IssuedToken) -> None:
    assert await update(client, alice, {"id": alice.user_id, "nick_name": "  Alice  "}) == UPDATED
    user = await me(client, alice)
    assert user["nickName"] == "Alice"
    assert await update(client, alice, {"nickName": "小爱"}) == UPDATED
    assert (await me(client, alice))["nickName"] == "小爱"


async def test_avatar_and_gender_are_set_and_cleared(client: Client, alice: IssuedToken) -> None:
    avatar = "https://cdn.example.com/a.png"
    assert await update(client, alice, {"avatar": avatar, "gender": "female"}) == UPDATED
    user = await me(client, alice)
    assert (user["avatar"], user["gender"], user["nickName"]) == (avatar, "female", None)
    assert await update(client, alice, {"avatar": None}) == UPDATED
    user = await me(client, alice)
    assert (user["avatar"], user["gender"]) == (None, "female")
    assert await update(client, alice, {"id": alice.user_id}) == UPDATED  # nothing to change


async def test_another_users_id_is_forbidden(
    client: Client, alice: IssuedToken, bob: IssuedToken
) -> None:
    assert await update(client, alice, {"id": bob.user_id, "nick_name": "Mallory"}) == (
        403,
        {
            "status": "fail",
            "data": {"message": said(texts.NOT_YOUR_PROFILE), "code": "FORBIDDEN"},
        },
    )
    assert (await me(client, bob))["nickName"] is None
    assert (await me(client, alice))["nickName"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"nick_name": ""}, problem("nick_name", texts.TEXT_EMPTY())),
        ({"nick_name": "   "}, problem("nick_name", texts.TEXT_EMPTY())),
        ({"nick_name": "x" * 65}, problem("nick_name", texts.TEXT_TOO_LONG(max_length=64))),
        ({"nick_name": 7}, problem("nick_name", texts.NOT_A_STRING)),
        ({"id": 7}, problem("id", texts.NOT_A_STRING)),
        ({"avatar": "javascript:alert(1)"}, problem("avatar", texts.TEXT_PATTERN)),
        ({"gender": "x" * 17}, problem("gender", texts.TEXT_TOO_LONG(max_length=16))),
    ],
)
async def test_bad_fields_are_validation_errors(
    client: Client, alice: IssuedToken, body: dict[str, Any], message: str
) -> None:
    status, answer = await update(client, alice, body)
    assert status == 400
    assert answer["data"]["code"] == "VALIDATION_ERROR"
    assert answer["data"]["message"].startswith(message)
    assert (await me(client, alice))["nickName"] is None


async def test_a_64_character_nickname_fits(client: Client, alice: IssuedToken) -> None:
    assert await update(client, alice, {"nick_name": "长" * 64}) == UPDATED
    assert (await me(client, alice))["nickName"] == "长" * 64


async def test_update_needs_a_login_and_a_json_object(client: Client, alice: IssuedToken) -> None:
    assert await update(client, None, {"nick_name": "x"}) == (401, LOGIN_REQUIRED)
    response = await client.post(
        "/api/users/update", data=b"[1]", headers={"Authorization": alice.header}
    )
    assert response.status == 400
    assert (await response.json())["data"]["code"] == "INVALID_JSON"
