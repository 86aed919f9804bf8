"""The outbox relay as a background task of the API process (the default deployment)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from lumi_api.keys import BACKGROUND_REDIS, OUTBOX_SIGNAL, SESSIONMAKER, SETTINGS
from lumi_common.outbox.relay import Relay, RelayConfig


async def relay_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.relay_enabled:
        yield
        return
    config = RelayConfig.from_settings(settings, key_prefix=settings.redis_key_prefix)
    relay = Relay(app[SESSIONMAKER], app[BACKGROUND_REDIS], config, app[OUTBOX_SIGNAL])
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    yield
    stop.set()
    await task
