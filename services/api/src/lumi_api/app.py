"""The aiohttp application factory: clients in cleanup contexts, routes by domain."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from lumi_api import health, metrics, security_headers, unimplemented
from lumi_api.admin import routes as admin_routes
from lumi_api.auth import routes as auth_routes
from lumi_api.events import listener as task_change_listener
from lumi_api.events import routes as event_routes
from lumi_api.files import cleanup as file_cleanup
from lumi_api.files import routes as file_routes
from lumi_api.files.urls import FileUrls
from lumi_api.gallery import routes as gallery_routes
from lumi_api.gallery.views import view_flush_ctx
from lumi_api.keys import (
    BACKGROUND_REDIS,
    ENGINE,
    FILE_URLS,
    OUTBOX_SIGNAL,
    PROMPTS,
    REDIS,
    REDIS_BREAKER,
    SESSIONMAKER,
    SETTINGS,
    STORAGE,
)
from lumi_api.middleware import cors, jsend_errors, request_context, route_guard
from lumi_api.models import routes as model_routes
from lumi_api.openapi import routes as openapi_routes
from lumi_api.ratelimit import hit_counter_ctx, rate_limit
from lumi_api.relay import relay_ctx
from lumi_api.settings import ApiSettings
from lumi_api.slices import routes as slice_routes
from lumi_api.tasks import routes as task_routes
from lumi_api.users import lists as user_lists
from lumi_api.users.profile import routes as profile_routes
from lumi_api.web import pages
from lumi_api.webhooks import routes as webhook_routes
from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.outbox.signal import OutboxSignal
from lumi_common.providers.prompts import OfflinePromptVariants
from lumi_common.redis_breaker import RedisBreaker
from lumi_common.redis_client import open_redis
from lumi_common.storage.opening import file_signer, open_storage_or_exit


def create_app(settings: ApiSettings) -> web.Application:
    app = web.Application(
        middlewares=[request_context, cors, jsend_errors, rate_limit, route_guard],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[OUTBOX_SIGNAL] = OutboxSignal()
    app[FILE_URLS] = file_urls(settings)
    app[PROMPTS] = OfflinePromptVariants()
    app.cleanup_ctx.extend(
        [
            storage_ctx,
            database_ctx,
            redis_ctx,
            task_change_listener.announcer_ctx,
            task_change_listener.listener_ctx,
            hit_counter_ctx,
            relay_ctx,
            view_flush_ctx,
            file_cleanup.sweeper_ctx,
        ]
    )
    security_headers.setup(app)
    health.setup(app)
    metrics.setup(app)
    auth_routes.setup(app)
    profile_routes.setup(app)
    task_routes.setup(app)
    event_routes.setup(app)
    webhook_routes.setup(app)
    app.on_shutdown.append(task_change_listener.close_streams)
    file_routes.setup(app)
    model_routes.setup(app)
    gallery_routes.setup(app)
    user_lists.setup(app)
    slice_routes.setup(app)
    admin_routes.setup(app)
    pages.setup(app)
    unimplemented.setup(app)
    openapi_routes.setup(app)
    return app


def file_urls(settings: ApiSettings) -> FileUrls:
    signer = file_signer(settings)
    if signer is None:  # the production check of the settings already refused this
        raise RuntimeError("FILE_URL_SECRET is required in production")
    return FileUrls(
        files_url=settings.base_url + settings.files_path_prefix,
        public_files_url=settings.public_files_base_url,
        signer=signer,
        signed_seconds=settings.signed_url_seconds,
    )


async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    files_url = settings.base_url + settings.files_path_prefix
    storage = await open_storage_or_exit(settings, files_url=files_url)
    app[STORAGE] = storage
    yield
    await storage.aclose()


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS])
    app[ENGINE] = engine
    app[SESSIONMAKER] = create_sessionmaker(engine)
    yield
    await engine.dispose()


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    breaker = RedisBreaker(
        timeout=settings.redis_timeout_seconds, reset_after=settings.redis_breaker_seconds
    )
    app[REDIS_BREAKER] = breaker
    app[REDIS] = redis = await open_redis(settings, breaker=breaker)
    app[BACKGROUND_REDIS] = background = await open_redis(settings)
    yield
    await redis.aclose()
    await background.aclose()
