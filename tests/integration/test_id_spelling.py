"""Ids in another letter case (issue 12, point 2). ULID parsing accepts lower case and MariaDB's
`_ci` collation matches such an id to the row, so before canonicalisation at the edge a deletion
recorded the client's spelling as the files' folder (never removed on a case-sensitive store),
and `batch-interactions` answered 500."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import IssuedToken
from lumi_api.keys import STORAGE
from lumi_common.db.tables import FileDeletion
from lumi_common.ids import canonical_id, new_id
from tests.support.api import Client
from tests.support.gallery import auth, completed_model

Sessions = async_sessionmaker[AsyncSession]


async def recorded_prefixes(sessionmaker: Sessions, *candidates: str) -> set[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(FileDeletion.prefix).where(FileDeletion.prefix.in_(candidates))
        )
        return set(rows)


def test_canonical_ids_are_upper_case_ulids() -> None:
    some = new_id()
    assert canonical_id(some.lower()) == some
    assert canonical_id(some) == some
    for bad in ("", "nope", some[:-1], some + "A", "U" * 26, "8" + some[1:]):
        assert canonical_id(bad) is None, bad


async def test_a_model_deleted_by_its_lower_case_id_loses_its_files(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    storage = client.app[STORAGE]
    await storage.put(f"models/{model['id']}/model.obj", b"v 0 0 0", "text/plain")

    deleted = await client.delete(f"/api/models/{model['id'].lower()}", headers=auth(alice))

    assert deleted.status == 200
    assert not await storage.exists(f"models/{model['id']}/model.obj")
    upper, lower = f"models/{model['id']}/", f"models/{model['id'].lower()}/"
    # compared in Python: the `_ci` collation would call both spellings equal
    assert await recorded_prefixes(sessionmaker, upper, lower) == {upper}


async def test_a_task_deleted_by_its_lower_case_id_loses_its_files(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    task_id = model["requestId"]
    storage = client.app[STORAGE]
    await storage.put(f"images/{task_id}/0.png", b"png", "image/png")
    await storage.put(f"models/{model['id']}/model.obj", b"v 0 0 0", "text/plain")

    deleted = await client.delete(f"/api/tasks/{task_id.lower()}", headers=auth(alice))

    assert deleted.status == 200
    assert not await storage.exists(f"images/{task_id}/0.png")
    assert not await storage.exists(f"models/{model['id']}/model.obj")
    wanted = {f"images/{task_id}/", f"models/{model['id']}/"}
    spelled = {f"images/{task_id.lower()}/", f"models/{model['id'].lower()}/"}
    assert await recorded_prefixes(sessionmaker, *wanted, *spelled) == wanted


async def test_batch_interactions_answer_every_spelling_as_sent(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    model = (await completed_model(client, alice, sessionmaker))["id"]
    liked = await client.post(
        f"/api/gallery/models/{model.lower()}/interactions",
        json={"type": "LIKE"},
        headers=auth(bob),
    )
    assert liked.status == 200
    ids = [model, model.lower(), "not-an-id"]

    answer = await client.post(
        "/api/gallery/models/batch-interactions", json={"modelIds": ids}, headers=auth(bob)
    )

    assert answer.status == 200
    body: Any = await answer.json()
    states = body["data"]["interactions"]
    assert states == {
        model: {"isLiked": True, "isFavorited": False},
        model.lower(): {"isLiked": True, "isFavorited": False},
        "not-an-id": {"isLiked": False, "isFavorited": False},
    }


async def test_a_lower_case_id_reads_the_same_model(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = (await completed_model(client, alice, sessionmaker))["id"]
    answer = await client.get(f"/api/gallery/models/{model.lower()}")
    assert answer.status == 200
    assert (await answer.json())["data"]["id"] == model
