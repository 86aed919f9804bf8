"""Recently resolved bearer tokens, kept in the process for a few seconds.

Looking a token up is a database round trip on every signed-in request, and it was the largest
single cost of creating a task. A hit answers from memory; what it may get wrong is bounded:
- a token revoked through this process (logout) is forgotten at once, and a profile changed
  through it drops its owner's entries (the name a task shows);
- a token revoked elsewhere (another replica, `lumi token revoke`) is announced to every process
  (`lumi_api.auth.invalidation`), which forgets it within a round trip; if the announcement is
  lost (Redis unreachable), it may be honoured here for at most `TOKEN_CACHE_SECONDS` more (0
  turns the cache off);
- an entry never outlives its token's expiry. Unknown tokens are never kept: a stream of made-up
  tokens cannot fill the memory, nor be answered from it.
"""

from __future__ import annotations

import time
from datetime import datetime

from lumi_api.auth.service import CurrentUser
from lumi_common.time import utcnow

MAX_ENTRIES = 10_000


class TokenCache:
    def __init__(self, seconds: float, *, max_entries: int = MAX_ENTRIES) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[CurrentUser, float]] = {}

    def get(self, token_hash: str) -> CurrentUser | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        user, until = entry
        if time.monotonic() >= until:
            del self._entries[token_hash]
            return None
        return user

    def put(self, token_hash: str, user: CurrentUser, *, expires_at: datetime) -> None:
        if self.seconds <= 0:
            return
        left = (expires_at - utcnow()).total_seconds()
        if left <= 0:
            return
        if len(self._entries) >= self.max_entries:  # the oldest entry goes first
            del self._entries[next(iter(self._entries))]
        self._entries[token_hash] = (user, time.monotonic() + min(self.seconds, left))

    def forget(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)

    def clear(self) -> None:
        self._entries.clear()

    def forget_user(self, user_id: str) -> None:
        for token_hash in [h for h, (user, _) in self._entries.items() if user.id == user_id]:
            del self._entries[token_hash]
