"""The file sweep as a background task of the API process: deletes stored files whose rows are
gone and that could not be deleted at once (`lumi_common.storage.deletions`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from lumi_api.keys import SESSIONMAKER, SETTINGS, STORAGE
from lumi_common.storage.deletions import FileSweeper


async def sweeper_ctx(app: web.Application) -> AsyncIterator[None]:
    every = app[SETTINGS].file_sweep_seconds
    if every <= 0:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(FileSweeper(app[SESSIONMAKER], app[STORAGE]).run(stop, every=every))
    yield
    stop.set()
    await task
