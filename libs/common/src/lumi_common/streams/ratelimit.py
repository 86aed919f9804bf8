"""An optional global jobs-per-minute limit per stream, shared by every replica through Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from lumi_common.redis_client import RedisClient
from lumi_common.redis_scripts import BatchedScript

# grant up to `wanted` of what is left in this minute's window; the key expires with the window
_TAKE = BatchedScript("""
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - used)
if grant <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], grant)
redis.call('EXPIRE', KEYS[1], 120)
return grant
""")
WINDOW_SECONDS = 60


class MinuteLimiter:
    def __init__(
        self,
        redis: RedisClient,
        key: str,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.key = key
        self.per_minute = per_minute
        self.clock = clock
        self._taken_from: str | None = None

    def _window(self) -> str:
        return f"{self.key}:{int(self.clock()) // WINDOW_SECONDS}"

    async def acquire(self, wanted: int, stop: asyncio.Event) -> int:
        """Up to `wanted` permits. None left in this window: wait a second at most (less when
        the window turns or `stop` is set) and return 0, so the caller's loop keeps turning."""
        if self.per_minute <= 0:
            return wanted
        window = self._window()
        granted = int(await _TAKE.call(self.redis, [window], [self.per_minute, wanted]))
        if granted:
            self._taken_from = window
            return granted
        wait = WINDOW_SECONDS - self.clock() % WINDOW_SECONDS
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=min(wait, 1.0))
        return 0

    async def refund(self, unused: int) -> None:
        """Give back permits taken for messages that were not there to read.

        They go back to the window they were taken from: a read blocks for a while, and giving
        them to the next window instead would let it admit more than the limit.
        """
        if self.per_minute > 0 and unused > 0 and self._taken_from is not None:
            await self.redis.decrby(self._taken_from, unused)
