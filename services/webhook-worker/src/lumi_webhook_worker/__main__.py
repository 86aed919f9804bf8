"""`lumi-webhook-worker`: deliver the webhook job stream."""

from __future__ import annotations

from lumi_common.streams.entry import worker_main
from lumi_webhook_worker.service import run
from lumi_webhook_worker.settings import WebhookWorkerSettings


def main(argv: list[str] | None = None) -> None:
    worker_main(
        argv,
        service="webhook-worker",
        description="Deliver signed webhook events from Redis Streams.",
        settings_class=WebhookWorkerSettings,
        run=run,
    )


if __name__ == "__main__":
    main()
