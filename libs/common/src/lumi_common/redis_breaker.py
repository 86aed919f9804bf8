"""A deadline and a circuit breaker for the Redis calls a request waits on.

A Redis that is stopped (SIGSTOP, a hung host) accepts connections and never answers: without a
deadline every request waits for the socket timeout, retried. With one, a request pays at most
`timeout` seconds; with the breaker, only the requests arriving while the first ones wait pay it.
After a failure the breaker is open: calls fail at once with `RedisUnavailable` for `reset_after`
seconds, then one call probes (half-open) while the others still fail at once; its success closes
the breaker, its failure opens it for another interval. So a dead Redis costs one timeout per
interval, not one per request.

Only failures of the connection count (a timeout, a refused or broken connection): an error
Redis answered with (a wrong type, NOSCRIPT) proves it is up.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from lumi_common.metrics.series import REDIS_BREAKER_OPENED

log = structlog.get_logger(__name__)


class RedisUnavailable(RedisConnectionError):
    """Redis did not answer within the deadline, or the breaker is open. A `ConnectionError`, so
    every `except RedisError` that lets a request through an outage handles it unchanged."""


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# what a dead or hung server looks like; anything else came from a server that answered
_OUTAGES = (TimeoutError, RedisTimeoutError, RedisConnectionError, OSError)


class RedisBreaker:
    def __init__(
        self,
        *,
        timeout: float,
        reset_after: float,
        name: str = "redis",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.reset_after = reset_after
        self.name = name
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def retry_after(self) -> int:
        """Whole seconds until the next probe: what a client is told to wait (at least 1)."""
        if self._state is BreakerState.CLOSED:
            return 1
        left = self.reset_after - (self._clock() - self._opened_at)
        return max(1, int(left + 0.999))

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Run the block within the deadline, unless the breaker refuses it at once."""
        probe = self._admit()
        try:
            async with asyncio.timeout(self.timeout):
                yield
        except _OUTAGES as exc:
            self._failed(exc, probe=probe)
            if isinstance(exc, RedisUnavailable):
                raise
            raise RedisUnavailable(f"{self.name}: {exc!r}") from exc
        except BaseException:
            if probe:  # cancelled or a bug: let another call probe
                self._probing = False
            raise
        else:
            self._succeeded(probe=probe)

    def _admit(self) -> bool:
        """Whether this call is the probe; raises when the breaker refuses it."""
        if self._state is BreakerState.CLOSED:
            return False
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_after:
            self._change(BreakerState.HALF_OPEN)
        if self._state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        raise RedisUnavailable(f"{self.name}: circuit open")

    def _failed(self, exc: BaseException, *, probe: bool) -> None:
        if probe:
            self._probing = False
        if self._state is BreakerState.CLOSED or probe:
            self._opened_at = self._clock()
            self._change(BreakerState.OPEN, error=repr(exc))

    def _succeeded(self, *, probe: bool) -> None:
        if probe:
            self._probing = False
            self._change(BreakerState.CLOSED)

    def _change(self, state: BreakerState, **details: str) -> None:
        if state is self._state:
            return
        previous, self._state = self._state, state
        if state is BreakerState.OPEN:
            REDIS_BREAKER_OPENED.inc()
        log.warning(
            "redis.breaker.changed",
            breaker=self.name,
            previous=previous.value,
            state=state.value,
            **details,
        )
