"""`lumi-webhook-worker`: deliver the webhook job stream."""

from __future__ import annotations

import argparse
import asyncio

from lumi_common.logging import configure_logging
from lumi_common.settings import load_settings
from lumi_webhook_worker.service import run
from lumi_webhook_worker.settings import WebhookWorkerSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="lumi-webhook-worker",
        description="Deliver signed webhook events from Redis Streams. Configuration comes from "
        "the environment (see docs/configuration.md).",
    )
    parser.add_argument(
        "--burst", action="store_true", help="process until the stream is idle, then exit"
    )
    args = parser.parse_args(argv)
    settings = load_settings(WebhookWorkerSettings)
    configure_logging(settings, service="webhook-worker")
    asyncio.run(run(settings, burst=args.burst))


if __name__ == "__main__":
    main()
