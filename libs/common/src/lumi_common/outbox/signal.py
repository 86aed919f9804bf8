"""Wakes the relay right after a local commit. Latency only: correctness is the outbox's."""

from __future__ import annotations

import asyncio
import contextlib


class OutboxSignal:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Return when woken or after `seconds`, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()
