"""Typed application keys: the only way handlers reach shared clients."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lumi_api.files.urls import FileUrls
from lumi_api.settings import ApiSettings
from lumi_common.outbox.signal import OutboxSignal


class PromptVariants(Protocol):
    """Turns one prompt into `count` distinct image prompts (an LLM, or the offline default)."""

    async def variants(self, prompt: str, count: int = 4) -> list[str]: ...


SETTINGS = web.AppKey("settings", ApiSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey[async_sessionmaker[AsyncSession]]("sessionmaker")
REDIS = web.AppKey[Redis]("redis")
OUTBOX_SIGNAL = web.AppKey("outbox_signal", OutboxSignal)
FILE_URLS = web.AppKey("file_urls", FileUrls)
PROMPTS = web.AppKey[PromptVariants]("prompts")
