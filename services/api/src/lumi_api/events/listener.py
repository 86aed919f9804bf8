"""One subscription per API process to the task change notices (`lumi_common.task_changes`),
fanned out in the process to the event streams watching those tasks.

A stream registers its wake-up before it first reads the database, so a change that commits
after that read always wakes it. Notices published while the subscription is down are lost
(pub/sub keeps nothing): after it comes back every stream is woken to read its task again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from lumi_api.keys import REDIS, SESSIONMAKER, SETTINGS
from lumi_common import task_changes
from lumi_common.redis_client import RedisClient
from lumi_common.redis_pubsub import subscribe

log = structlog.get_logger(__name__)

RESUBSCRIBE_MAX_SECONDS = 5.0
# how long a read waits for a notice before checking whether the process is stopping
READ_WAIT_SECONDS = 1.0
# how long the API waits at start for the first subscription before serving anyway
FIRST_SUBSCRIBE_SECONDS = 2.0


class TaskChangeListener:
    def __init__(self, redis: RedisClient, *, key_prefix: str, reads_at_once: int) -> None:
        self.redis = redis
        self.channel = task_changes.channel(key_prefix)
        # streams reading their task at the same time: a thousand woken at once (after a
        # resubscribe, or opened together) queue here instead of emptying the connection pool
        # that every other route needs
        self.reads = asyncio.Semaphore(reads_at_once)
        self.subscribed = asyncio.Event()
        self.closing = False
        self._watchers: dict[str, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def watch(self, task_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the task may have changed (or the process is stopping)."""
        woken = asyncio.Event()
        self._watchers.setdefault(task_id, set()).add(woken)
        try:
            yield woken
        finally:
            watchers = self._watchers.get(task_id)
            if watchers is not None:
                watchers.discard(woken)
                if not watchers:
                    del self._watchers[task_id]

    @property
    def watching(self) -> int:
        return sum(len(watchers) for watchers in self._watchers.values())

    def wake(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            for woken in self._watchers.get(task_id, ()):
                woken.set()

    def wake_all(self) -> None:
        for watchers in self._watchers.values():
            for woken in watchers:
                woken.set()

    def close_streams(self) -> None:
        """Ask every open stream to end (the process is shutting down)."""
        self.closing = True
        self.wake_all()

    async def run(self, stop: asyncio.Event) -> None:
        pause = 0.0
        while not stop.is_set():
            try:
                async with subscribe(self.redis, self.channel) as subscription:
                    self.subscribed.set()
                    if pause:  # back after a gap: what was published meanwhile is lost
                        log.info("task_changes.resubscribed")
                        self.wake_all()
                    pause = 0.0
                    while not stop.is_set():
                        data = await subscription.next_message(READ_WAIT_SECONDS)
                        if data is not None:
                            self.wake(task_changes.decode(data))
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                pause = min(RESUBSCRIBE_MAX_SECONDS, max(0.2, pause * 2))
                log.warning("task_changes.subscription.lost", error=repr(exc), retry_in_s=pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)


TASK_CHANGES = web.AppKey("task_change_listener", TaskChangeListener)


async def announcer_ctx(app: web.Application) -> AsyncIterator[None]:
    """What this process's own transactions change (choose, cancel, retry, delete) is announced
    to every replica, this one included, through the same channel."""
    announcer = task_changes.TaskChanges(app[REDIS], key_prefix=app[SETTINGS].redis_key_prefix)
    announcer.attach(app[SESSIONMAKER])
    yield
    await announcer.aclose()


async def listener_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    listener = TaskChangeListener(
        app[REDIS],
        key_prefix=settings.redis_key_prefix,
        reads_at_once=max(1, settings.db_pool_size // 2),
    )
    app[TASK_CHANGES] = listener
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    with contextlib.suppress(TimeoutError):  # Redis down: serve; streams re-check the database
        await asyncio.wait_for(listener.subscribed.wait(), FIRST_SUBSCRIBE_SECONDS)
    yield
    stop.set()
    await task


async def close_streams(app: web.Application) -> None:
    """on_shutdown: open streams end now rather than hold the shutdown for its whole grace."""
    if TASK_CHANGES in app:
        app[TASK_CHANGES].close_streams()
