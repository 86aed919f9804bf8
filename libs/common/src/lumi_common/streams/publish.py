"""Idempotent XADD: an entry is added once per event id, however often it is published.

The relay may publish a row twice (it crashed between XADD and marking the row, or two relays on
SQLite raced); the marker key makes the second XADD a no-op. It shares the stream's hash tag.
"""

from __future__ import annotations

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


class StreamPublisher:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.prefix = prefix
        self._script = redis.register_script(_XADD_ONCE)

    def key(self, stream: str) -> str:
        return stream_key(self.prefix, stream)

    def marker(self, stream: str, event_id: str) -> str:
        return f"{self.key(stream)}:published:{event_id}"

    async def publish(self, stream: str, event_id: str, data: bytes | str) -> None:
        await self._script(
            keys=[self.key(stream), self.marker(stream, event_id)],
            args=[MARKER_TTL_SECONDS, data, event_id],
        )

    async def queue(self, pipe: Pipeline, stream: str, event_id: str, data: bytes | str) -> None:
        """Add a publish to a pipeline, so a batch costs one round trip."""
        await self._script(
            keys=[self.key(stream), self.marker(stream, event_id)],
            args=[MARKER_TTL_SECONDS, data, event_id],
            client=pipe,
        )
