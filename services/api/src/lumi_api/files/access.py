"""Who may fetch a file without a signature, and which stored file a URL's key names.

Unsigned, only a listed model's files are served (public and completed: what the gallery shows),
checked against its row on every request, so making a model private closes its files at once.
Task images, work files and anything outside a model's folder are never served unsigned: an
unchosen picture is reachable only through its owner's signed URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api.files.urls import PREVIEW_FILE
from lumi_api.models.repository import is_listed
from lumi_common.db.tables import Model


@dataclass(frozen=True, slots=True)
class FileTarget:
    stored_key: str | None  # None: nothing is stored under this URL
    public: bool


async def resolve(session: AsyncSession, key: str) -> FileTarget:
    """What `GET …/files/<key>` serves. `key` has passed `check_key`."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] != "models":
        return FileTarget(stored_key=key, public=False)
    model = await session.get(Model, parts[1])
    if model is None:
        return FileTarget(stored_key=None, public=False)
    listed = is_listed(model)
    if parts[2:] == [PREVIEW_FILE]:
        # the preview is the chosen task picture, stored with the task's images
        return FileTarget(stored_key=model.preview_key, public=listed)
    return FileTarget(stored_key=key, public=listed)
