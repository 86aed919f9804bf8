"""Idempotent XADD: an entry is added once per event id, however often it is published.

The relay may publish a row twice (it crashed between XADD and marking the row, or two relays on
SQLite raced); the marker key makes the second XADD a no-op. It shares the stream's hash tag.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from lumi_common.streams.names import stream_key

DATA_FIELD = b"data"
EVENT_FIELD = b"event"
# a row is republished only within moments of its first XADD (a relay crashed before marking it,
# or two relays raced on SQLite): an hour is ample, and one marker per event costs Redis memory
MARKER_TTL_SECONDS = 3600

_XADD_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[1], '*', 'data', ARGV[2], 'event', ARGV[3])
end
return false
"""


# the same for many events of one stream in one call: KEYS = stream, marker…; ARGV = ttl, then
# data and event id per marker (one script call per event cost the relay more than the XADDs)
_XADD_EACH_ONCE = """
local added = 0
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], '*', 'data', ARGV[2 * i - 2], 'event', ARGV[2 * i - 1])
    added = added + 1
  end
end
return added
"""


class StreamPublisher:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.prefix = prefix
        self._script = redis.register_script(_XADD_ONCE)
        self._many = redis.register_script(_XADD_EACH_ONCE)

    def key(self, stream: str) -> str:
        return stream_key(self.prefix, stream)

    def marker(self, stream: str, event_id: str) -> str:
        return f"{self.key(stream)}:published:{event_id}"

    async def publish(self, stream: str, event_id: str, data: bytes | str) -> None:
        await self._script(
            keys=[self.key(stream), self.marker(stream, event_id)],
            args=[MARKER_TTL_SECONDS, data, event_id],
        )

    async def queue(
        self, pipe: Pipeline, stream: str, events: Sequence[tuple[str, bytes | str]]
    ) -> None:
        """Add the publishes of (event id, data) pairs, in order, to a pipeline: one script call
        for them all (their marker keys share the stream's hash tag)."""
        args: list[bytes | str | int] = [MARKER_TTL_SECONDS]
        for event_id, data in events:
            args += [data, event_id]
        markers = [self.marker(stream, event_id) for event_id, _ in events]
        await self._many(keys=[self.key(stream), *markers], args=args, client=pipe)
