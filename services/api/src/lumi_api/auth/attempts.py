"""Code checks (login, register) counted in Redis, with a growing wait once a scope has failed
too often — shared by every API replica.

Three scopes are counted over `LOGIN_FAILURE_WINDOW_SECONDS`: the address from this client,
this client over all addresses, and the address from all clients. Past a scope's free failures
each further try must wait 1 s, 2 s, 4 s … (at most `LOGIN_BACKOFF_MAX_SECONDS`) after that
scope's last failure. So a guesser is slowed on its own client first; many clients guessing one
address are slowed together, which bounds brute force over any lifetime; and nobody's guesses
lock anyone's code (the code row counts only its requesting client's wrong tries, see `codes`).

A try is recorded before the code is checked — concurrent tries cannot slip past the check —
and given back when the code was right.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import structlog
from redis.exceptions import RedisError

from lumi_api import texts
from lumi_api.auth.settings import LoginCodeSettings
from lumi_common.errors import RateLimited, ServiceUnavailable
from lumi_common.i18n.http import duration
from lumi_common.ids import new_id
from lumi_common.redis_client import RedisClient
from lumi_common.redis_scripts import BatchedScript

log = structlog.get_logger(__name__)

# how long a caller waits before trying again when Redis cannot count its tries
UNAVAILABLE_RETRY_SECONDS = 5

# KEYS: the scopes; ARGV: window_ms, max backoff ms, member, then each scope's free failures.
# Returns the ms to wait (nothing recorded), or 0 once the try is recorded in every scope.
_TRY = BatchedScript("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local used = redis.call('ZCARD', key)
  local free = tonumber(ARGV[3 + i])
  if used >= free then
    local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    local left = tonumber(last[2]) + math.min(cap, 1000 * 2 ^ (used - free)) - now
    if left > wait then wait = left end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
end
return 0
""")


@dataclass(frozen=True, slots=True)
class Try:
    member: str
    keys: tuple[str, ...]


class LoginAttempts:
    def __init__(self, redis: RedisClient, *, prefix: str, settings: LoginCodeSettings) -> None:
        self.redis = redis
        self.prefix = prefix
        self.settings = settings

    def scopes(self, *, email: str, client: str) -> list[tuple[str, int]]:
        """(key, free failures) per scope; one hash tag, so one Redis Cluster slot."""
        s, base, address = self.settings, f"{self.prefix}:{{login}}", _digest(email)
        return [
            (f"{base}:pair:{address}:{client}", s.login_failures_free_per_client_and_address),
            (f"{base}:client:{client}", s.login_failures_free_per_client),
            (f"{base}:address:{address}", s.login_failures_free_per_address),
        ]

    async def begin(self, *, email: str, client: str) -> Try:
        """Record a try, or raise `RateLimited` (429) with the wait; 503 without Redis, as a
        check that cannot be counted is a check without a limit."""
        scopes = self.scopes(email=email, client=client)
        member = new_id()
        args: list[str | int] = [
            self.settings.login_failure_window_seconds * 1000,
            self.settings.login_backoff_max_seconds * 1000,
            member,
            *(free for _, free in scopes),
        ]
        keys = [key for key, _ in scopes]
        try:
            wait_ms = int(await _TRY.call(self.redis, keys, args))
        except RedisError as exc:
            raise ServiceUnavailable(
                texts.LOGIN_UNAVAILABLE, headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)}
            ) from exc
        if wait_ms > 0:
            wait = max(1, math.ceil(wait_ms / 1000))
            raise RateLimited(
                texts.LOGIN_SLOWED(wait=duration(wait)),
                details={"retryAfterSeconds": wait},
                headers={"Retry-After": str(wait)},
            )
        return Try(member, tuple(keys))

    async def succeeded(self, attempt: Try) -> None:
        """The code was right: the try was no guess. Best effort — a try left counted only
        brings a later wait one step nearer."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in attempt.keys:
                    pipe.zrem(key, attempt.member)
                await pipe.execute()
        except RedisError as exc:
            log.warning("auth.login_try.refund_failed", error=repr(exc))


def _digest(email: str) -> str:
    """Keys name a digest, not the address itself."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]
