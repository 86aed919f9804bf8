"""`lumi streams`: per stream, its length, pending and lag, consumers and dead letters, and the
outbox backlog.

Kept fast (docs/performance.md, "Operator CLI"): Redis, and the database through the driver
(`lumi_common.db.probe`), never SQLAlchemy; the imports stay inside the handler.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from lumi_api.cli.errors import run_async

if TYPE_CHECKING:
    from lumi_common.db.probe import Probe

COLUMNS = ("stream", "length", "pending", "lag", "consumers", "dlq", "outbox_due")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("streams", help="stream health")
    parser.add_argument("--json", action="store_true", help="JSON for scripts")
    parser.set_defaults(run=run_async(_streams))


async def outbox_due(connection: Probe) -> dict[str, int]:
    """Unpublished outbox events that are due, per stream."""
    from lumi_common.time import utcnow

    rows = await connection.fetch(
        "SELECT stream, COUNT(*) FROM outbox"
        " WHERE published_at IS NULL AND available_at <= ? GROUP BY stream",
        [connection.timestamp(utcnow())],
    )
    return {str(stream): int(count) for stream, count in rows}


async def _streams(args: argparse.Namespace) -> int:
    from lumi_api.cli import context
    from lumi_common.streams.state import stream_state

    settings = context.load(context.OpsSettings)
    streams = list(context.STREAMS.values())
    async with context.redis(settings) as redis:
        states = [await stream_state(redis, settings.redis_key_prefix, s) for s in streams]
    rows = [state.row() for state in states]
    async with context.checked_probe(settings) as connection:
        backlog = await outbox_due(connection)
    for row, stream in zip(rows, streams, strict=True):
        row["outbox_due"] = backlog.get(stream, 0)
    context.emit(rows, as_json=args.json, columns=COLUMNS)
    return 0
