"""Every administrator's action, recorded twice: a row in `admin_actions` (the console lists
them) and a log line (`admin.action.recorded`), with who, when, what and how it ended."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.admin.repository import AdminRepository
from lumi_api.auth.service import CurrentUser
from lumi_common import jsonx
from lumi_common.db.tables import AdminAction
from lumi_common.ids import new_id
from lumi_common.time import utcnow

log = structlog.get_logger(__name__)


async def record(
    sessionmaker: async_sessionmaker[AsyncSession],
    user: CurrentUser,
    *,
    action: str,
    stream: str | None,
    target: Any,
    outcome: Any,
) -> None:
    """Written after the action, in its own transaction: the action itself (a replay is one
    transaction per letter) has already happened, and the record says how far it got."""
    row = AdminAction(
        id=new_id(),
        user_id=user.id,
        user_email=user.email,
        action=action,
        stream=stream,
        target=jsonx.dumps_str(target),
        outcome=jsonx.dumps_str(outcome),
        created_at=utcnow(),
    )
    log.info(
        "admin.action.recorded",
        admin_action_id=row.id,
        admin_email=user.email,
        action=action,
        stream=stream,
        target=target,
        outcome=outcome,
    )
    async with sessionmaker.begin() as session:
        AdminRepository(session).add_action(row)
