"""`lumi streams`: per stream, its length, pending and lag, consumers and dead letters."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select

from lumi_api.cli.context import STREAM_CHOICES, connect, emit
from lumi_common.db.tables import OutboxEvent
from lumi_common.streams.names import dlq_name, group_name, stream_key
from lumi_common.time import utcnow

COLUMNS = ("stream", "length", "pending", "lag", "consumers", "dlq", "outbox_due")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("streams", help="stream health")
    parser.add_argument("--json", action="store_true", help="JSON for scripts")
    parser.set_defaults(run=lambda a: asyncio.run(_streams(a)))


async def stream_stats(redis: Redis, prefix: str, stream: str) -> dict[str, Any]:
    key = stream_key(prefix, stream)
    row: dict[str, Any] = {"stream": key, "length": int(await redis.xlen(key))}
    groups: list[dict[str, Any]] = (
        await redis.xinfo_groups(key) if row["length"] or await redis.exists(key) else []
    )
    group = next((g for g in groups if g["name"].decode() == group_name(stream)), None)
    row["pending"] = group["pending"] if group else 0
    row["lag"] = group["lag"] if group else row["length"]
    row["consumers"] = group["consumers"] if group else 0
    row["dlq"] = int(await redis.xlen(stream_key(prefix, dlq_name(stream))))
    return row


async def _streams(args: argparse.Namespace) -> int:
    async with connect() as ops:
        prefix = ops.settings.redis_key_prefix
        rows = [await stream_stats(ops.redis, prefix, stream) for stream in STREAM_CHOICES.values()]
        async with ops.sessionmaker() as session:
            due = await session.execute(
                select(OutboxEvent.stream, func.count())
                .where(OutboxEvent.published_at.is_(None), OutboxEvent.available_at <= utcnow())
                .group_by(OutboxEvent.stream)
            )
            backlog: dict[str, int] = dict(due.all())
    for row, stream in zip(rows, STREAM_CHOICES.values(), strict=True):
        row["outbox_due"] = backlog.get(stream, 0)
    emit(rows, as_json=args.json, columns=COLUMNS)
    return 0
