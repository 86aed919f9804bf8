"""`lumi-slice-worker`: consume the slice job stream."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys

from lumi_common.logging import configure_logging
from lumi_common.settings import load_settings
from lumi_slice_worker.profiles import ProfileError
from lumi_slice_worker.service import run
from lumi_slice_worker.settings import SliceWorkerSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="lumi-slice-worker",
        description="Consume slice jobs from Redis Streams and turn models into G-code with "
        "PrusaSlicer. Configuration comes from the environment (see docs/configuration.md).",
    )
    parser.add_argument(
        "--burst", action="store_true", help="process until the stream is idle, then exit"
    )
    args = parser.parse_args(argv)
    settings = load_settings(SliceWorkerSettings)
    configure_logging(settings, service="slice-worker")
    # every job would fail without it: say so once, at start, instead of in each dead letter
    if shutil.which(settings.slicer_binary) is None:
        sys.exit(
            f"lumi-slice-worker: SLICER_BINARY={settings.slicer_binary} is not an executable "
            "on PATH (install the Debian package prusa-slicer)"
        )
    try:
        asyncio.run(run(settings, burst=args.burst))
    except ProfileError as error:
        sys.exit(f"lumi-slice-worker: {error}")


if __name__ == "__main__":
    main()
