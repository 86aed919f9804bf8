"""Settings of the webhook worker, composed from the shared pieces."""

from __future__ import annotations

from pydantic import Field

from lumi_common.settings import WorkerSettings
from lumi_common.webhooks.settings import WebhookSettings


class WebhookWorkerSettings(WorkerSettings, WebhookSettings):
    webhook_queue_concurrency: int = Field(default=16, ge=1, le=1024)
    # a global limit shared by every replica (0 = none)
    webhook_jobs_per_minute: int = Field(default=0, ge=0)
    # attempts of one delivery before it is a dead letter (receivers are down for a while)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    # the whole attempt: connect, send, and read the answer
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # the most of a receiver's answer that is read (the rest is dropped with the connection)
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=0, le=10 * 1024 * 1024)
