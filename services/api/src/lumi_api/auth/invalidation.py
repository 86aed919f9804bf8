"""Dropping cached tokens in every API process at once (Redis pub/sub; sharded on a cluster,
see `lumi_common.redis_pubsub`).

Each process keeps resolved tokens for `TOKEN_CACHE_SECONDS` (`lumi_api.auth.cache`). A logout,
a profile change or `lumi token revoke` in one place is announced on a channel after its commit,
and every process listening drops the entries it names, so a revoked token stops working
everywhere within a round trip instead of after the cache window. Pub/sub delivers only to those
listening: a process that lost its subscription (Redis restarted, a network blip) empties its
whole cache when it subscribes again, and while Redis is unreachable the cache window remains
the bound, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from lumi_api.auth.cache import TokenCache
from lumi_api.keys import BACKGROUND_REDIS, SETTINGS, TOKEN_CACHE
from lumi_common.redis_client import RedisClient
from lumi_common.redis_pubsub import publish, subscribe

log = structlog.get_logger(__name__)

MAX_BACKOFF_SECONDS = 10.0
_TOKEN, _USER = "token:", "user:"


def channel(prefix: str) -> str:
    return f"{prefix}:auth:token-cache"


async def forget_token(redis: RedisClient, prefix: str, token_hash: str) -> None:
    """Every process drops this token (call after the revocation committed)."""
    await _announce(redis, prefix, _TOKEN + token_hash)


async def forget_user(redis: RedisClient, prefix: str, user_id: str) -> None:
    """Every process drops the user's tokens (call after the change committed)."""
    await _announce(redis, prefix, _USER + user_id)


async def _announce(redis: RedisClient, prefix: str, message: str) -> None:
    try:
        await publish(redis, channel(prefix), message)
    except (RedisError, OSError) as exc:  # the cache window still bounds what other processes see
        log.warning("auth.cache_invalidation.unsent", error=repr(exc))


class Listener:
    """Applies the announcements to this process's cache, resubscribing after any outage."""

    def __init__(self, redis: RedisClient, prefix: str, cache: TokenCache) -> None:
        self.redis = redis
        self.channel = channel(prefix)
        self.cache = cache
        self.listening = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.0
        while not stop.is_set():
            try:
                await self._listen(stop)
                return
            except (RedisError, OSError) as exc:
                if self.listening.is_set():  # it had been listening: a fresh outage
                    self.listening.clear()
                    backoff = 0.0
                backoff = min(MAX_BACKOFF_SECONDS, max(0.2, backoff * 2))
                log.warning("auth.cache_invalidation.lost", error=repr(exc), retry_in_s=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)

    async def _listen(self, stop: asyncio.Event) -> None:
        async with subscribe(self.redis, self.channel) as subscription:
            # announcements made while this process was not listening are lost: start afresh
            self.cache.clear()
            self.listening.set()
            while not stop.is_set():
                data = await subscription.next_message(wait_seconds=1.0)
                if data is not None:
                    self.apply(data)

    def apply(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        if text.startswith(_TOKEN):
            self.cache.forget(text.removeprefix(_TOKEN))
        elif text.startswith(_USER):
            self.cache.forget_user(text.removeprefix(_USER))


LISTENER = web.AppKey("token_cache_listener", Listener)


async def listener_ctx(app: web.Application) -> AsyncIterator[None]:
    if app[SETTINGS].token_cache_seconds <= 0:  # nothing cached, nothing to drop
        yield
        return
    listener = Listener(app[BACKGROUND_REDIS], app[SETTINGS].redis_key_prefix, app[TOKEN_CACHE])
    app[LISTENER] = listener
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    yield
    stop.set()
    task.cancel()  # at once: it may be waiting a second for a message
    with contextlib.suppress(asyncio.CancelledError):
        await task
