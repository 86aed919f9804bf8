"""`lumi dlq list|show|replay|purge`: inspect, replay and purge dead letters.

The work is `lumi_common.streams.dlq` / `dlq_replay`'s (the admin API calls the same); this
module parses, reports progress and prints. Heavy imports stay inside the handlers, so that
`lumi --help` loads none of them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from lumi_api.cli.errors import CliError, ExitCode, run_async
from lumi_common.streams.names import JOB_STREAMS

if TYPE_CHECKING:
    from lumi_api.cli.context import OpsSettings
    from lumi_common.jobs.kinds import JobKind
    from lumi_common.streams.dlq_replay import ReplayReport

LIST_COLUMNS = ("id", "job_id", "reason", "attempts", "failed_at", "error")
STREAM_HELP = " or ".join(stream.removesuffix("-jobs") for stream in JOB_STREAMS)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("dlq", help="dead-letter streams")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="entries of a dead-letter stream")
    _stream(listing)
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="JSON for scripts")
    listing.set_defaults(run=run_async(_list))

    show = actions.add_parser("show", help="one entry in full, as JSON")
    show.add_argument("id", help="entry id, as `lumi dlq list` prints it")
    show.add_argument("--stream", help=f"{STREAM_HELP} (default: look in both)")
    show.set_defaults(run=run_async(_show))

    replay = actions.add_parser("replay", help="reset the jobs and queue them again")
    _stream(replay)
    _which(replay)
    replay.add_argument("--dry-run", action="store_true", help="say what would happen")
    replay.add_argument("--json", action="store_true", help="JSON for scripts, no progress")
    replay.set_defaults(run=run_async(_replay))

    purge = actions.add_parser("purge", help="delete entries without replaying them")
    _stream(purge)
    _which(purge)
    purge.add_argument("--json", action="store_true", help="JSON for scripts, no progress")
    purge.set_defaults(run=run_async(_purge))


def _stream(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stream", required=True, help=STREAM_HELP)


def _which(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", dest="ids", metavar="ID", help="repeatable")
    which.add_argument("--all", action="store_true", help="every entry present now")


async def _list(args: argparse.Namespace) -> int:
    from lumi_api.cli import context
    from lumi_common.settings import RedisSettings
    from lumi_common.streams.dlq import DeadLetters

    stream = context.resolve_stream(args.stream)
    settings = context.load(RedisSettings)
    async with context.redis(settings) as redis:
        letters = DeadLetters(redis, key_prefix=settings.redis_key_prefix)
        entries = await letters.entries(stream, limit=args.limit)
    context.emit([e.summary() for e in entries], as_json=args.json, columns=LIST_COLUMNS)
    return ExitCode.OK


async def _show(args: argparse.Namespace) -> int:
    from lumi_api.cli import context
    from lumi_common import jsonx
    from lumi_common.settings import RedisSettings
    from lumi_common.streams.dlq import DeadLetters, check_entry_id

    check_entry_id(args.id)
    streams = (
        [context.resolve_stream(args.stream)] if args.stream else list(context.STREAMS.values())
    )
    settings = context.load(RedisSettings)
    async with context.redis(settings) as redis:
        letters = DeadLetters(redis, key_prefix=settings.redis_key_prefix)
        for stream in streams:
            entry = await letters.get(stream, args.id)
            if entry is not None:
                body = entry.letter.model_dump(mode="json") if entry.letter else {"raw": entry.raw}
                context.say(jsonx.dumps_str({"id": entry.entry_id, **body}))
                return ExitCode.OK
    raise CliError(
        ExitCode.NOT_FOUND, f"no dead letter with id {args.id}", "list them: `lumi dlq list`"
    )


async def _replay(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from lumi_api.cli import context
    from lumi_api.cli.progress import mode_for, progress, stop_on_interrupt
    from lumi_common.streams.dlq import DeadLetters, check_entry_id
    from lumi_common.streams.dlq_replay import replay
    from lumi_common.task_changes import TaskChanges

    stream = context.resolve_stream(args.stream)
    for entry_id in args.ids or ():
        check_entry_id(entry_id)
    settings = context.load(context.OpsSettings)
    async with context.redis(settings) as redis, context.database(settings) as sessionmaker:
        letters = DeadLetters(redis, key_prefix=settings.redis_key_prefix)
        announcer = TaskChanges(redis, key_prefix=settings.redis_key_prefix)
        announcer.attach(sessionmaker)  # open event streams show the tasks queued again
        total = len(args.ids) if args.ids else await letters.size(stream)
        mode = mode_for(as_json=args.json)
        with (
            stop_on_interrupt("letter") as stop,
            progress("replay", total, unit="letters", mode=mode) as bar,
        ):
            report = await replay(
                letters,
                sessionmaker,
                _job_kind(settings, stream),
                None if args.all else args.ids,
                dry_run=args.dry_run,
                stop=stop,
                on_result=lambda _: bar.advance(),
            )
        await announcer.aclose()
    if args.json:
        context.print_json([asdict(result) for result in report.results])
    else:
        _print_replay(report, letters.key(stream), dry_run=args.dry_run)
    if report.interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.OK if report.complete else ExitCode.INCOMPLETE


def _job_kind(settings: OpsSettings, stream: str) -> JobKind[Any, Any]:
    """What replaying a letter of `stream` resets: a webhook delivery, or a pipeline job."""
    from datetime import timedelta

    from lumi_api.cli import context
    from lumi_common.streams.names import WEBHOOK_JOBS
    from lumi_common.webhooks.kind import WebhookDeliveries

    if stream == WEBHOOK_JOBS:
        return WebhookDeliveries(lease=timedelta(seconds=settings.job_lease_seconds))
    return context.job_kind(settings, stream)


def _print_replay(report: ReplayReport, key: str, *, dry_run: bool) -> None:
    from dataclasses import asdict

    from lumi_api.cli import context

    left = [asdict(r) for r in report.results if r.outcome not in ("requeued", "would_requeue")]
    if left:
        context.emit(left, as_json=False, columns=("entry_id", "job_id", "outcome"))
    counts = report.counts()
    done = counts["would_requeue"] if dry_run else counts["requeued"]
    verb = "would requeue" if dry_run else "requeued"
    if report.interrupted:
        untouched = report.total - len(report.results)
        context.say(
            f"interrupted after {len(report.results)} of {report.total} letters ({verb} {done});"
            f" the other {untouched} are untouched: run the same command again to continue"
        )
        return
    line = f"{verb} {done} of {len(report.results)} letters"
    if left:
        kinds = ", ".join(f"{outcome}: {n}" for outcome, n in sorted(counts.items()) if n)
        line += f"; {len(left)} not replayed ({kinds}), left in {key}: inspect with `lumi dlq show`"
    context.say(line)


async def _purge(args: argparse.Namespace) -> int:
    from lumi_api.cli import context
    from lumi_api.cli.progress import mode_for, progress, stop_on_interrupt
    from lumi_common.settings import RedisSettings
    from lumi_common.streams.dlq import DeadLetters, PurgeReport

    stream = context.resolve_stream(args.stream)
    settings = context.load(RedisSettings)
    async with context.redis(settings) as redis:
        letters = DeadLetters(redis, key_prefix=settings.redis_key_prefix)
        if args.ids:
            removed = await letters.purge(stream, args.ids)
            report = PurgeReport(len(args.ids), removed, interrupted=False)
        else:
            total = await letters.size(stream)
            mode = mode_for(as_json=args.json)
            with (
                stop_on_interrupt("page of letters") as stop,
                progress("purge", total, unit="letters", mode=mode) as bar,
            ):
                report = await letters.purge_all(stream, stop=stop, on_removed=bar.advance)
    if args.json:
        context.print_json(
            {"total": report.total, "removed": report.removed, "interrupted": report.interrupted}
        )
    elif report.interrupted:
        context.say(
            f"interrupted: removed {report.removed} of {report.total} letters; run the same"
            " command again to remove the rest"
        )
    else:
        context.say(f"removed {report.removed} of {report.total} letters")
    if report.interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.OK if report.removed == report.total else ExitCode.INCOMPLETE
