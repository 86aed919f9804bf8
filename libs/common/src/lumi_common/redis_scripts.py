"""Lua scripts called many times in one round trip.

A script is called by its hash: redis-py's pipeline would first ask whether it is loaded (SCRIPT
EXISTS, another round trip) on every call. It is loaded only when Redis says it lacks it (a
restart, SCRIPT FLUSH); then no call of the batch has run, and the whole batch is sent again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

# one call: its keys, then its other arguments
Call = tuple[Sequence[str], Sequence[str | bytes | int | float]]


class BatchedScript:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts so

    async def call_many(self, redis: Redis, calls: Sequence[Call]) -> list[Any]:
        """Each call's result, in order; all calls in one pipeline."""
        for attempt in (1, 2):
            async with redis.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    pipe.evalsha(self.sha, len(keys), *keys, *args)
                try:
                    return list(await pipe.execute())
                except NoScriptError:
                    if attempt == 2:
                        raise
            await redis.script_load(self.source)
        raise AssertionError("unreachable")
