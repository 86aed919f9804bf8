"""Reading a Server-Sent Events stream as a browser's EventSource parses it (WHATWG HTML,
"Interpreting an event stream"): fields per line, an empty line ends an event, `:` a comment."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp

from lumi_common import jsonx


@dataclass(frozen=True, slots=True)
class Event:
    event: str  # "message" unless named
    data: str
    id: str | None

    def json(self) -> Any:
        return jsonx.loads(self.data)


class EventReader:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments = 0  # heartbeats seen

    async def next(self, within: float = 10.0) -> Event | None:
        """The next event; None when the server closed the stream."""
        return await asyncio.wait_for(self._next(), within)

    async def _next(self) -> Event | None:
        event, event_id = "message", None
        data: list[str] = []
        while True:
            raw = await self.response.content.readline()
            if not raw:
                return None
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    return Event(event, "\n".join(data), event_id)
                event = "message"
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                event_id = value

    async def all(self, within: float = 10.0) -> list[Event]:
        """Every event until the server closes the stream."""
        events = []
        while (event := await self.next(within)) is not None:
            events.append(event)
        return events
