"""`POST /users/update`: the caller changes their own nickname, avatar or gender."""

from __future__ import annotations

import structlog
from aiohttp import web

from lumi_api import jsend, texts
from lumi_api.auth import invalidation
from lumi_api.auth.current import require_user
from lumi_api.body import parse_body
from lumi_api.gallery.cache import gallery_cache
from lumi_api.keys import REDIS, SESSIONMAKER, SETTINGS, TOKEN_CACHE
from lumi_api.routing import add_route
from lumi_api.schemas import MessageOut
from lumi_api.users.profile import service
from lumi_api.users.profile.schemas import UpdateProfileBody
from lumi_common.time import utcnow

log = structlog.get_logger(__name__)


def setup(app: web.Application) -> None:
    add_route(
        app,
        "POST",
        "/users/update",
        update_profile,
        summary="Change the caller's nickname, avatar or gender (403 for another user's `id`)",
        auth="required",
        body=UpdateProfileBody,
        response=MessageOut,
        responses=(403,),
        tag="users",
    )


async def update_profile(request: web.Request) -> web.Response:
    caller = await require_user(request)
    body = await parse_body(request, UpdateProfileBody)
    async with request.app[SESSIONMAKER].begin() as session:
        await service.update(session, caller=caller, body=body, now=utcnow())
    # the cached caller carries the old name, here and in every other process
    request.app[TOKEN_CACHE].forget_user(caller.id)
    await invalidation.forget_user(
        request.app[REDIS], request.app[SETTINGS].redis_key_prefix, caller.id
    )
    if "nick_name" in body.changes():  # gallery pages show it as the author's name
        await gallery_cache(request.app).bump()
    log.info("user.profile_updated", fields=sorted(body.changes()))
    return jsend.success(MessageOut(message=texts.PROFILE_UPDATED.render()).to_json())
