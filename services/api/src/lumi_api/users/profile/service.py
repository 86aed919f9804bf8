"""Reading a profile with its stats; changing one's own profile and no one else's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api import texts
from lumi_api.auth.service import CurrentUser
from lumi_api.users.profile.repository import ProfileRepository
from lumi_api.users.profile.schemas import UpdateProfileBody, UserOut
from lumi_common.errors import Forbidden


class NotYourProfile(Forbidden):
    default_message = texts.NOT_YOUR_PROFILE


async def load(session: AsyncSession, *, user_id: str) -> UserOut | None:
    found = await ProfileRepository(session).with_stats(user_id)
    return None if found is None else UserOut.build(*found)


async def update(
    session: AsyncSession, *, caller: CurrentUser, body: UpdateProfileBody, now: datetime
) -> None:
    if body.id is not None and body.id != caller.id:
        raise NotYourProfile()
    changes = body.changes()
    if changes:
        await ProfileRepository(session).update(caller.id, changes, now=now)
