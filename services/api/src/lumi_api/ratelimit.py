"""Request limits per caller: a fixed one-minute window in Redis, shared by every replica.

On routes that require a token the caller is the signed-in user (the route guard looks the token
up anyway), so people behind one NAT do not share an allowance. Elsewhere the caller is the
client's address, and the token is looked up only once that address is over its allowance: a
signed-in caller behind it is then counted by account instead. So public pages (a cached gallery
page) cost no token lookup, and a made-up token never buys a fresh allowance. The mobile app polls
every 2 s per running task: keep the limit generous (`RATE_LIMIT_PER_MINUTE`, 0 = off). Health
routes and everything outside `/api` (the public files, meant for a CDN) are not limited. Redis
being down or hung lets requests through after its deadline (`REDIS_TIMEOUT_SECONDS`, at once
while the breaker is open), logged and counted: a limiter must not take the API down with it.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator

import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from lumi_api import texts
from lumi_api.auth.current import optional_user, presented_token
from lumi_api.client_address import client_address
from lumi_api.keys import REDIS, SETTINGS
from lumi_api.routing import route_table
from lumi_common.db.group_commit import GroupCommit
from lumi_common.errors import RateLimited
from lumi_common.metrics.series import RATE_LIMIT_FAILED_OPEN
from lumi_common.redis_client import RedisClient
from lumi_common.redis_scripts import BatchedScript

WINDOW_SECONDS = 60
# a window's counter outlives the window a little, so clock skew between replicas cannot reset it
KEY_TTL_SECONDS = 2 * WINDOW_SECONDS
LIMITED_PATHS = "/api/"

log = structlog.get_logger(__name__)


class TooManyRequests(RateLimited):
    default_message = texts.TOO_MANY_REQUESTS


# KEYS[1]: the window's counter; ARGV[1]: its TTL. One command per count, and the counter never
# exists without its TTL (no MULTI/EXEC)
_COUNT = BatchedScript("""
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
""")


class HitCounter:
    """Counts requests in their windows. The counts of requests arriving together share one
    pipeline (`GroupCommit`): a round trip per request cost much more CPU than a count in a
    shared pipeline (docs/performance.md, "API, 2026-11-29 03:00–04:00 UTC"). Each request still
    waits for its own count, so limits stay exact across replicas. A Redis error reaches every
    request of the batch at once."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        # requests let through uncounted because Redis failed, since the process started
        self.failed_open = 0
        self._group: GroupCommit[str, int] = GroupCommit(
            self._count, name="ratelimit", max_batch=128, in_flight=2, retry_alone=False
        )

    async def hit(self, key: str, *, limit: int, now: float) -> int | None:
        """Count one request in the current window; the seconds until the next one when over."""
        count = await self._group.submit(f"{key}:{int(now // WINDOW_SECONDS)}")
        if count <= limit:
            return None
        return max(1, math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS))

    async def drain(self) -> None:
        """Until the counts under way are answered (before the Redis client closes)."""
        await self._group.wait_idle()

    async def _count(self, keys: list[str]) -> list[int]:
        calls = [([key], [KEY_TTL_SECONDS]) for key in keys]
        return [int(count) for count in await _COUNT.call_many(self._redis, calls)]


HIT_COUNTER = web.AppKey("hit_counter", HitCounter)


async def hit_counter_ctx(app: web.Application) -> AsyncIterator[None]:
    counter = app[HIT_COUNTER] = HitCounter(app[REDIS])
    yield
    await counter.drain()


@web.middleware
async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    spec = route_table(request.app).spec_for(request)
    exempt = spec is not None and not spec.rate_limited
    if settings.rate_limit_per_minute == 0 or exempt or not request.path.startswith(LIMITED_PATHS):
        return await handler(request)
    try:
        signed_in = spec is not None and spec.auth in ("required", "admin")
        retry_after = await _count(request, required=signed_in)
    except (RedisError, OSError) as exc:  # within REDIS_TIMEOUT_SECONDS, or at once (breaker)
        counter = request.app[HIT_COUNTER]
        counter.failed_open += 1
        RATE_LIMIT_FAILED_OPEN.inc()
        log.warning("rate_limit.failed_open", error=repr(exc), failed_open=counter.failed_open)
        return await handler(request)
    if retry_after is not None:
        raise TooManyRequests(headers={hdrs.RETRY_AFTER: str(retry_after)})
    return await handler(request)


async def _count(request: web.Request, *, required: bool) -> int | None:
    """Seconds until the caller may send again when over the limit, else None."""
    settings = request.app[SETTINGS]
    prefix, limit = f"{settings.redis_key_prefix}:ratelimit", settings.rate_limit_per_minute
    counter, now = request.app[HIT_COUNTER], time.time()
    address = f"ip:{client_address(request, settings.trusted_proxy_hops)}"
    user = await _signed_in(request) if required else None
    caller = f"user:{user}" if user else address
    retry_after = await counter.hit(f"{prefix}:{caller}", limit=limit, now=now)
    if retry_after is not None and not required and (user := await _signed_in(request)):
        caller = f"user:{user}"  # a signed-in caller behind a busy address (a shared NAT)
        retry_after = await counter.hit(f"{prefix}:{caller}", limit=limit, now=now)
    if retry_after is not None:
        log.info("rate_limit.exceeded", caller=caller)
    return retry_after


async def _signed_in(request: web.Request) -> str | None:
    """The caller's user id when a valid token was presented."""
    if presented_token(request) is None:
        return None
    try:
        user = await optional_user(request)
    except SQLAlchemyError as exc:  # counted by address; the handler reports the outage
        log.warning("rate_limit.user_unknown", error=repr(exc))
        return None
    return None if user is None else user.id
