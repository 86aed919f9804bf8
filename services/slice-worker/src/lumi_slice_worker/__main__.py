"""`lumi-slice-worker`: consume the slice job stream."""

from __future__ import annotations

import shutil
import sys

from lumi_common.streams.entry import worker_main
from lumi_slice_worker.profiles import ProfileError
from lumi_slice_worker.service import run
from lumi_slice_worker.settings import SliceWorkerSettings


def main(argv: list[str] | None = None) -> None:
    try:
        worker_main(
            argv,
            service="slice-worker",
            description="Consume slice jobs from Redis Streams and turn models into G-code "
            "with PrusaSlicer.",
            settings_class=SliceWorkerSettings,
            run=run,
            preflight=require_slicer,
        )
    except ProfileError as error:
        sys.exit(f"lumi-slice-worker: {error}")


def require_slicer(settings: SliceWorkerSettings) -> None:
    # every job would fail without it: say so once, at start, instead of in each dead letter
    if shutil.which(settings.slicer_binary) is None:
        sys.exit(
            f"lumi-slice-worker: SLICER_BINARY={settings.slicer_binary} is not an executable "
            "on PATH (install the Debian package prusa-slicer)"
        )


if __name__ == "__main__":
    main()
