"""The author name others see (issue 12, point 8): it was the local part of the author's e-mail
address, often a real name. Now it is the nickname the author chose, else one derived from the
user id — for accounts made before the change too."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import User
from tests.support.api import Client, issue
from tests.support.gallery import auth, completed_model

Sessions = async_sessionmaker[AsyncSession]

pytestmark = pytest.mark.usefixtures("empty_gallery")


async def public_answers(client: Client, model_id: str, viewer: str) -> list[str]:
    """Every public place an author's name appears, as raw text."""
    paths = ["/api/gallery/models", f"/api/gallery/models/{model_id}"]
    answers = [await (await client.get(path)).text() for path in paths]
    favourites = await client.get("/api/users/favorites", headers={"Authorization": viewer})
    return [*answers, await favourites.text()]


async def test_the_author_name_never_comes_from_the_address(
    client: Client, sessionmaker: Sessions
) -> None:
    local = f"jane.q.public.{secrets.token_hex(4)}"
    author = await issue(sessionmaker, email=f"{local}@example.com")
    async with sessionmaker.begin() as session:  # as an account made before the change holds
        await session.execute(update(User).where(User.id == author.user_id).values(user_name=local))
    viewer = await issue(sessionmaker)
    model = await completed_model(client, author, sessionmaker)
    liked = await client.post(
        f"/api/gallery/models/{model['id']}/interactions",
        json={"type": "FAVORITE"},
        headers=auth(viewer),
    )
    assert liked.status == 200

    answers = await public_answers(client, model["id"], viewer.header)
    expected = f"lumi_{author.user_id[-8:].lower()}"
    assert all(local not in text and expected in text for text in answers), answers

    renamed = await client.post(
        "/api/users/update", json={"nick_name": "Teapot Maker"}, headers=auth(author)
    )
    assert renamed.status == 200
    answers = await public_answers(client, model["id"], viewer.header)
    assert all("Teapot Maker" in text and local not in text for text in answers), answers
