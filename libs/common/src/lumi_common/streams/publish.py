"""Idempotent XADD: an entry is added once per event id, however often it is published.

The relay may publish a row twice (it crashed between XADD and marking the row, or two relays on
SQLite raced); the marker key makes the second XADD a no-op. It shares the stream's hash tag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lumi_common.redis_client import RedisClient
from lumi_common.redis_scripts import BatchedScript
from lumi_common.streams.names import stream_key

DATA_FIELD = b"data"
EVENT_FIELD = b"event"
# a row is republished only within moments of its first XADD (a relay crashed before marking it,
# or two relays raced on SQLite): an hour is ample, and one marker per event costs Redis memory
MARKER_TTL_SECONDS = 3600

# the events of one stream in one call: KEYS = stream, marker…; ARGV = ttl, then data and event
# id per marker (one script call per event cost the relay more than the XADDs)
_XADD_EACH_ONCE = BatchedScript("""
local added = 0
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], '*', 'data', ARGV[2 * i - 2], 'event', ARGV[2 * i - 1])
    added = added + 1
  end
end
return added
""")


Events = Sequence[tuple[str, bytes | str]]  # (event id, data), in publishing order


class StreamPublisher:
    def __init__(self, redis: RedisClient, prefix: str) -> None:
        self.prefix = prefix
        self._redis = redis

    def key(self, stream: str) -> str:
        return stream_key(self.prefix, stream)

    def marker(self, stream: str, event_id: str) -> str:
        return f"{self.key(stream)}:published:{event_id}"

    async def publish(self, stream: str, event_id: str, data: bytes | str) -> None:
        await self.publish_many({stream: [(event_id, data)]})

    async def publish_many(self, streams: Mapping[str, Events]) -> None:
        """Publish each stream's events in order: one script call per stream, one round trip
        (`BatchedScript`; a batch it sends again after Redis lost the script adds nothing, as
        the markers see to it)."""
        calls = []
        for stream, events in streams.items():
            markers = [self.marker(stream, event_id) for event_id, _ in events]
            args = [value for event_id, data in events for value in (data, event_id)]
            calls.append(([self.key(stream), *markers], [MARKER_TTL_SECONDS, *args]))
        await _XADD_EACH_ONCE.call_many(self._redis, calls)
