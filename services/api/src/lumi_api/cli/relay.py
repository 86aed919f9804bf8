"""`lumi relay`: run the outbox relay on its own (it runs inside the API by default). With
`HEALTH_PORT` it answers probes there, and `GET /metrics` (publish latency, outbox backlog)."""

from __future__ import annotations

import argparse
from typing import Any

from lumi_api.cli.errors import run_async


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "relay", help="publish outbox events to Redis Streams until stopped"
    )
    parser.set_defaults(run=run_async(_relay))


async def _relay(_: argparse.Namespace) -> int:
    import asyncio
    import signal

    from lumi_api.cli import context
    from lumi_common.logging import configure_logging
    from lumi_common.metrics.exposition import Exposition
    from lumi_common.metrics.outbox import OutboxStats
    from lumi_common.outbox.relay import Relay, RelayConfig
    from lumi_common.streams.health import serve_health

    settings = context.load(context.RelayProcessSettings)
    async with context.redis(settings) as redis, context.database(settings) as sessionmaker:
        configure_logging(settings, service="relay")
        config = RelayConfig.from_settings(settings, key_prefix=settings.redis_key_prefix)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        outbox = OutboxStats(sessionmaker, max_age=settings.metrics_cache_seconds)
        metrics = Exposition([outbox]).render if settings.metrics_enabled else None
        health = None
        if settings.health_port:
            health = await serve_health(settings.health_port, lambda: True, metrics=metrics)
        try:
            await Relay(sessionmaker, redis, config).run(stop)
        finally:
            if health is not None:
                health.close()
                await health.wait_closed()
    return 0
