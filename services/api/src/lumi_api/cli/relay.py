"""`lumi relay`: run the outbox relay on its own (it runs inside the API by default)."""

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
    from lumi_common.outbox.relay import Relay, RelayConfig

    settings = context.load(context.OpsSettings)
    async with context.redis(settings) as redis, context.database(settings) as sessionmaker:
        configure_logging(settings, service="relay")
        config = RelayConfig.from_settings(settings, key_prefix=settings.redis_key_prefix)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Relay(sessionmaker, redis, config).run(stop)
    return 0
