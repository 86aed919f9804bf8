"""`lumi calls REQUEST_ID`: every provider call one generation request caused (prompt variants,
images, 3D model), with its outcome, duration and cost, and the totals."""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from lumi_api.cli.errors import CliError, ExitCode, run_async

if TYPE_CHECKING:
    from lumi_api.cli.context import OpsSettings
    from lumi_common.db.tables import ProviderCallRecord

COLUMNS = ("at", "stage", "provider", "model", "operation", "outcome", "ms", "cost", "unit", "job")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "calls", help="provider calls of one request: outcome, duration, cost"
    )
    parser.add_argument("request_id", help="the generation request (task) id")
    parser.add_argument("--json", action="store_true", help="rows as JSON for scripts")
    parser.set_defaults(run=run_async(_run))


async def _run(args: argparse.Namespace) -> int:
    from lumi_api.cli import context

    rows = await calls_of(context.load(context.OpsSettings), args.request_id)
    if not rows:
        raise CliError(
            ExitCode.NOT_FOUND,
            f"no provider calls recorded for request {args.request_id}",
            "check the id (a task id, as the API returns it)",
        )
    context.emit(rows, as_json=args.json, columns=COLUMNS)
    if not args.json:
        columns = ("provider", "calls", "ms", "cost", "unit")
        context.emit(totals(rows), as_json=False, columns=columns)
    return ExitCode.OK


async def calls_of(settings: OpsSettings, request_id: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from lumi_api.cli import context
    from lumi_common.db.tables import ProviderCallRecord

    async with context.database(settings) as sessionmaker, sessionmaker() as session:
        records = await session.scalars(
            select(ProviderCallRecord)
            .where(ProviderCallRecord.request_id == request_id)
            .order_by(ProviderCallRecord.created_at, ProviderCallRecord.id)
        )
        return [_row(record) for record in records]


def _row(record: ProviderCallRecord) -> dict[str, Any]:
    from lumi_common.time import iso_ms

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
