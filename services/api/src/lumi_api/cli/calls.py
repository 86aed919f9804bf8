"""`lumi calls REQUEST_ID`: every provider call one generation request caused (prompt variants,
images, 3D model), with its outcome, duration and cost, and the totals."""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from lumi_api.cli.context import connect, emit
from lumi_common.db.tables import ProviderCallRecord
from lumi_common.time import iso_ms

COLUMNS = ("at", "stage", "provider", "model", "operation", "outcome", "ms", "cost", "unit", "job")
EXIT_NOT_FOUND = 1


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "calls", help="provider calls of one request: outcome, duration, cost"
    )
    parser.add_argument("request_id", help="the generation request (task) id")
    parser.add_argument("--json", action="store_true", help="rows as JSON for scripts")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    rows = asyncio.run(calls_of(args.request_id))
    if not rows:
        emit([], as_json=args.json, columns=COLUMNS)
        return EXIT_NOT_FOUND
    emit(rows, as_json=args.json, columns=COLUMNS)
    if not args.json:
        emit(totals(rows), as_json=False, columns=("provider", "calls", "ms", "cost", "unit"))
    return 0


async def calls_of(request_id: str) -> list[dict[str, Any]]:
    async with connect() as ops, ops.sessionmaker() as session:
        records = await session.scalars(
            select(ProviderCallRecord)
            .where(ProviderCallRecord.request_id == request_id)
            .order_by(ProviderCallRecord.created_at, ProviderCallRecord.id)
        )
        return [_row(record) for record in records]


def _row(record: ProviderCallRecord) -> dict[str, Any]:
    return {
        "at": iso_ms(record.created_at),
        "stage": record.stage,
        "provider": record.provider,
        "model": record.model,
        "operation": record.operation,
        "outcome": record.outcome,
        "ms": record.duration_ms,
        "cost": record.cost,
        "unit": record.cost_unit,
        "job": record.job_id,
        "provider_job_id": record.provider_job_id,
        "error": record.error,
    }


def totals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per provider and cost unit: how many calls, how long in all, what they cost."""
    sums: dict[tuple[str, str | None], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for row in rows:
        entry = sums[(row["provider"], row["unit"])]
        entry[0] += 1
        entry[1] += row["ms"]
        entry[2] += row["cost"] or 0.0
    return [
        {"provider": provider, "calls": int(n), "ms": int(ms), "cost": round(cost, 3), "unit": unit}
        for (provider, unit), (n, ms, cost) in sorted(
            sums.items(), key=lambda i: (i[0][0], i[0][1] or "")
        )
    ]
