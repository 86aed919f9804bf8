"""The webhook worker process: its dependencies, then the shared worker runtime until SIGTERM."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import WebhookDelivery
from lumi_common.jobs.results import Handler
from lumi_common.messages import WebhookDeliveryRequested
from lumi_common.streams.worker import consumer_config, serve_jobs
from lumi_common.webhooks.kind import WebhookDeliveries
from lumi_webhook_worker.delivery import Sender
from lumi_webhook_worker.handler import Deps, handle_delivery
from lumi_webhook_worker.settings import WebhookWorkerSettings


async def run(settings: WebhookWorkerSettings, *, burst: bool = False) -> None:
    kind = WebhookDeliveries(lease=timedelta(seconds=settings.job_lease_seconds))
    config = consumer_config(
        settings,
        stream=kind.stream,
        concurrency=settings.webhook_queue_concurrency,
        jobs_per_minute=settings.webhook_jobs_per_minute,
    )
    retry = dataclasses.replace(config.retry, max_attempts=settings.webhook_max_attempts)
    config = dataclasses.replace(config, retry=retry)
    async with sender(settings) as http:

        def handler(
            sessionmaker: async_sessionmaker[AsyncSession],
        ) -> Handler[WebhookDelivery, WebhookDeliveryRequested, None]:
            return partial(handle_delivery, Deps(sessionmaker, http))

        await serve_jobs(settings, kind=kind, config=config, handler=handler, burst=burst)


def sender(settings: WebhookWorkerSettings) -> Sender:
    return Sender(
        timeout_seconds=settings.webhook_timeout_seconds,
        max_response_bytes=settings.webhook_max_response_bytes,
        allow_private=settings.webhook_allow_private,
    )
