"""`Idempotency-Key` on creating a task: a retried request gets the task the first one created.

The key is the client's, per user; the fingerprint is a hash of the validated body (so `" cat "`
and `"cat"` are the same request). Both are columns of the request, and the unique
`(user_id, idempotency_key)` makes concurrent requests with one key create one task: the losers
find the winner's. A key is free again once its task is deleted. Keys are case-insensitive
(MySQL's collation compares them so; lower-casing makes SQLite agree).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from lumi_api import texts
from lumi_common import jsonx
from lumi_common.errors import Conflict, ValidationFailed

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_CHARS = 128  # generation_requests.idempotency_key
_KEY = re.compile(rf"^[\x21-\x7e]{{1,{MAX_KEY_CHARS}}}$")  # visible ASCII


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"
    default_message = texts.IDEMPOTENCY_KEY_REUSED


@dataclass(frozen=True, slots=True)
class Idempotency:
    key: str
    fingerprint: str

    def check(self, fingerprint: str | None) -> None:
        """The task found under this key must come from the same body."""
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused()


def from_request(request: web.Request, body: BaseModel) -> Idempotency | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not _KEY.match(key):
        reason = texts.IDEMPOTENCY_KEY_INVALID(limit=MAX_KEY_CHARS)
        raise ValidationFailed(texts.FIELD_PROBLEM(field=HEADER, reason=reason))
    digest = hashlib.sha256(
        jsonx.dumps(body.model_dump(mode="json", exclude_none=True))
    ).hexdigest()
    return Idempotency(key=key.lower(), fingerprint=digest)
