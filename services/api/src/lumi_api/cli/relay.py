"""`lumi relay`: run the outbox relay on its own (it runs inside the API by default)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from lumi_api.cli.context import connect
from lumi_common.logging import configure_logging
from lumi_common.outbox.relay import Relay, RelayConfig


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "relay", help="publish outbox events to Redis Streams until stopped"
    )
    parser.set_defaults(run=lambda _: asyncio.run(_relay()))


async def _relay() -> int:
    async with connect() as ops:
        configure_logging(ops.settings, service="relay")
        config = RelayConfig.from_settings(ops.settings, key_prefix=ops.settings.redis_key_prefix)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Relay(ops.sessionmaker, ops.redis, config).run(stop)
    return 0
