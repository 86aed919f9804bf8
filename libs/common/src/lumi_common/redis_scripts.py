"""Lua scripts, each a module-level `BatchedScript`, called one at a time or many in one round trip.

A script is called by its hash: redis-py's pipeline would first ask whether it is loaded (SCRIPT
EXISTS, another round trip) on every call. It is loaded only when Redis says it lacks it (a
restart, SCRIPT FLUSH, a replica promoted by a failover); the calls refused with NOSCRIPT did not
run, and only they are sent again. On a Redis Cluster the calls of one batch go to the nodes
owning their keys' slots (a pipeline per node, in parallel), some of which may have the script
and some not: resending the whole batch would run the others twice.

All keys of one call must share a hash tag (`{…}`), so they are in one cluster slot; that is
checked for every script against a real cluster (`tests/integration/cluster/test_script_slots.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

from lumi_common.redis_client import RedisClient

# one call: its keys, then its other arguments
Call = tuple[Sequence[str], Sequence[str | bytes | int | float]]


class BatchedScript:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts so

    async def call(
        self, redis: RedisClient, keys: Sequence[str], args: Sequence[str | bytes | int | float]
    ) -> Any:
        """One call's result."""
        return (await self.call_many(redis, [(keys, args)]))[0]

    async def call_many(self, redis: RedisClient, calls: Sequence[Call]) -> list[Any]:
        """Each call's result, in order; all calls in one pipeline."""
        results = await self._send(redis, calls)
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            await redis.script_load(self.source)  # on a cluster: on every primary
            again = await self._send(redis, [calls[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    async def _send(self, redis: RedisClient, calls: Sequence[Call]) -> list[Any]:
        async with redis.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                # a raw command: redis-py's cluster pipeline refuses its `evalsha` method (a
                # list of commands it blocks), yet routes EVALSHA by its keys' slot like any
                # keyed command, and refuses one whose keys span slots
                pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))
