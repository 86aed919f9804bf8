"""How often codes may be requested: sliding windows in Redis, shared by every API replica.

Each limit is a sorted set of the requests in its window (score = Redis server time in ms).
One script checks every limit of a request and records it in all of them only if none is full,
so a refused request uses up nothing. The keys share one hash tag (one Redis Cluster slot).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from lumi_api import texts
from lumi_api.auth.settings import LoginCodeSettings
from lumi_common.errors import RateLimited
from lumi_common.i18n import Message
from lumi_common.i18n.http import duration
from lumi_common.ids import new_id
from lumi_common.redis_client import RedisClient
from lumi_common.redis_scripts import BatchedScript

HOUR_SECONDS = 3600
# IPv6 clients are counted per /64: one host usually holds a whole /64

# KEYS: one per limit; ARGV: window_ms, limit (per key), then the member to record.
# Returns {index of the first full limit, ms until it frees} or {0, 0} once recorded.
_TAKE = BatchedScript("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i - 1])
  local limit = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local used = redis.call('ZCARD', key)
  if used >= limit then
    local oldest = redis.call('ZRANGE', key, used - limit, used - limit, 'WITHSCORES')
    return {i, tonumber(oldest[2]) + window - now}
  end
end
local member = ARGV[2 * #KEYS + 1]
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i - 1]))
end
return {0, 0}
""")


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    window_seconds: int
    limit: int
    message: Message  # its `{wait}` is the time to wait
    refundable: bool  # given back when the code could not be sent


@dataclass(frozen=True, slots=True)
class Grant:
    member: str
    refundable_keys: tuple[str, ...]


class SendCodeLimiter:
    def __init__(self, redis: RedisClient, *, prefix: str, settings: LoginCodeSettings) -> None:
        self.redis = redis
        self.prefix = prefix
        self.settings = settings

    def limits(self, *, email: str, client: str) -> list[Limit]:
        """The interval and the hourly count are per address *from this client*, so one caller
        asking for someone else's codes uses up only its own allowance; all clients together
        have a larger hourly cap per address, which bounds the mail one address can receive."""
        s = self.settings
        address = f"{self.prefix}:{{send-code}}:address:{_digest(email)}"
        pair = f"{address}:client:{client}"
        limits = [
            Limit(
                f"{pair}:hour",
                HOUR_SECONDS,
                s.send_code_per_address_per_hour,
                texts.SEND_CODE_ADDRESS,
                refundable=True,
            ),
            Limit(
                f"{address}:hour",
                HOUR_SECONDS,
                s.send_code_per_address_all_clients_per_hour,
                texts.SEND_CODE_ADDRESS,
                refundable=True,
            ),
            Limit(
                f"{self.prefix}:{{send-code}}:client:{client}",
                HOUR_SECONDS,
                s.send_code_per_ip_per_hour,
                texts.SEND_CODE_NETWORK,
                refundable=False,  # a failing send must not let one client try without end
            ),
        ]
        if s.send_code_interval_seconds > 0:
            interval = Limit(
                f"{pair}:interval",
                s.send_code_interval_seconds,
                1,
                texts.SEND_CODE_INTERVAL,
                refundable=True,
            )
            limits.insert(0, interval)
        return limits

    async def take(self, *, email: str, client: str) -> Grant:
        """Record one send for `email` from `client`, or raise `RateLimited` (429)."""
        limits = self.limits(email=email, client=client)
        member = new_id()
        args: list[str | int] = []
        for limit in limits:
            args += [limit.window_seconds * 1000, limit.limit]
        keys = [limit.key for limit in limits]
        index, wait_ms = await _TAKE.call(self.redis, keys, [*args, member])
        if int(index):
            full = limits[int(index) - 1]
            wait = max(1, math.ceil(int(wait_ms) / 1000))
            raise RateLimited(
                full.message(wait=duration(wait)),
                details={"retryAfterSeconds": wait},
                headers={"Retry-After": str(wait)},
            )
        return Grant(member, tuple(limit.key for limit in limits if limit.refundable))

    async def refund(self, grant: Grant) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in grant.refundable_keys:
                pipe.zrem(key, grant.member)
            await pipe.execute()


def _digest(email: str) -> str:
    """Keys name a digest, not the address itself."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]
