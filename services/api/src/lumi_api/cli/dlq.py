"""`lumi dlq list|show|replay|purge`: inspect and replay dead letters."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict
from typing import Any

from lumi_api.cli.context import STREAM_CHOICES, connect, emit
from lumi_common import jsonx
from lumi_common.streams.dlq import DeadLetters

LIST_COLUMNS = ("id", "job_id", "reason", "attempts", "failed_at", "error")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("dlq", help="dead-letter streams")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="entries of a dead-letter stream")
    _stream(listing)
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="JSON for scripts")
    listing.set_defaults(run=lambda a: asyncio.run(_list(a)))

    show = actions.add_parser("show", help="one entry in full")
    show.add_argument("id", help="entry id, as `lumi dlq list` prints it")
    show.add_argument("--stream", choices=STREAM_CHOICES, help="default: look in both")
    show.set_defaults(run=lambda a: asyncio.run(_show(a)))

    replay = actions.add_parser("replay", help="reset the jobs and queue them again")
    _stream(replay)
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", dest="ids", metavar="ID")
    which.add_argument("--all", action="store_true")
    replay.add_argument("--dry-run", action="store_true", help="say what would happen")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(run=lambda a: asyncio.run(_replay(a)))

    purge = actions.add_parser("purge", help="delete entries without replaying them")
    _stream(purge)
    which = purge.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", dest="ids", metavar="ID")
    which.add_argument("--all", action="store_true")
    purge.set_defaults(run=lambda a: asyncio.run(_purge(a)))


def _stream(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stream", choices=STREAM_CHOICES, required=True)


async def _list(args: argparse.Namespace) -> int:
    async with connect() as ops:
        letters = DeadLetters(ops.redis, key_prefix=ops.settings.redis_key_prefix)
        entries = await letters.entries(STREAM_CHOICES[args.stream], limit=args.limit)
    emit([entry.summary() for entry in entries], as_json=args.json, columns=LIST_COLUMNS)
    return 0


async def _show(args: argparse.Namespace) -> int:
    streams = [STREAM_CHOICES[args.stream]] if args.stream else list(STREAM_CHOICES.values())
    async with connect() as ops:
        letters = DeadLetters(ops.redis, key_prefix=ops.settings.redis_key_prefix)
        for stream in streams:
            entry = await letters.get(stream, args.id)
            if entry is not None:
                body = entry.letter.model_dump(mode="json") if entry.letter else {"raw": entry.raw}
                sys.stdout.write(jsonx.dumps_str({"id": entry.entry_id, **body}) + "\n")
                return 0
    sys.stderr.write(f"no dead letter with id {args.id}\n")
    return 1


async def _replay(args: argparse.Namespace) -> int:
    stream = STREAM_CHOICES[args.stream]
    async with connect() as ops:
        letters = DeadLetters(ops.redis, key_prefix=ops.settings.redis_key_prefix)
        ids = None if args.all else args.ids
        results = await letters.replay(
            ops.sessionmaker, ops.kind(stream), ids, dry_run=args.dry_run
        )
    emit([asdict(r) for r in results], as_json=args.json, columns=("entry_id", "job_id", "outcome"))
    return 0 if all(r.outcome in ("requeued", "would_requeue") for r in results) else 1


async def _purge(args: argparse.Namespace) -> int:
    async with connect() as ops:
        letters = DeadLetters(ops.redis, key_prefix=ops.settings.redis_key_prefix)
        removed = await letters.purge(STREAM_CHOICES[args.stream], None if args.all else args.ids)
    sys.stdout.write(f"removed {removed}\n")
    return 0
