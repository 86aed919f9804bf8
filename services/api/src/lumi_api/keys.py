"""Typed application keys: the only way handlers reach shared clients."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lumi_api.auth.cache import TokenCache
from lumi_api.auth.cookies import SessionCookies
from lumi_api.files.urls import FileUrls
from lumi_api.mail.sender import Mailer
from lumi_api.settings import ApiSettings
from lumi_common.outbox.signal import OutboxSignal
from lumi_common.providers.prompts import PromptVariants
from lumi_common.redis_breaker import RedisBreaker
from lumi_common.redis_client import RedisClient
from lumi_common.storage import Storage

SETTINGS = web.AppKey("settings", ApiSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey[async_sessionmaker[AsyncSession]]("sessionmaker")
# requests' client: every call within REDIS_TIMEOUT_SECONDS, behind the breaker
REDIS = web.AppKey[RedisClient]("redis")
REDIS_BREAKER = web.AppKey("redis_breaker", RedisBreaker)
# background loops' client (relay, token listener): they wait as long as they need and back off
BACKGROUND_REDIS = web.AppKey[RedisClient]("background_redis")
OUTBOX_SIGNAL = web.AppKey("outbox_signal", OutboxSignal)
FILE_URLS = web.AppKey("file_urls", FileUrls)
PROMPTS = web.AppKey[PromptVariants]("prompts")
STORAGE = web.AppKey[Storage]("storage")
SESSION_COOKIES = web.AppKey("session_cookies", SessionCookies)
MAILER = web.AppKey[Mailer]("mailer")
TOKEN_CACHE = web.AppKey("token_cache", TokenCache)
