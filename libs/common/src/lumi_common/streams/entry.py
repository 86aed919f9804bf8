"""A worker's console script (`lumi-<name>-worker [--burst]`): arguments, settings from the
environment, logging, then the worker's `run` until SIGTERM (which `serve_jobs` handles)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from lumi_common.logging import configure_logging
from lumi_common.settings import WorkerSettings, load_settings

S = TypeVar("S", bound=WorkerSettings)
S_contra = TypeVar("S_contra", bound=WorkerSettings, contravariant=True)


class WorkerRun(Protocol[S_contra]):
    def __call__(self, settings: S_contra, /, *, burst: bool) -> Coroutine[Any, Any, None]: ...


def worker_main(
    argv: list[str] | None,
    *,
    service: str,
    description: str,
    settings_class: type[S],
    run: WorkerRun[S],
    preflight: Callable[[S], None] | None = None,
) -> None:
    """`service` names the process (`image-worker`: script `lumi-image-worker`, log field
    `service`); `preflight` checks the settings once logging is set, before any connection."""
    parser = argparse.ArgumentParser(
        prog=f"lumi-{service}",
        description=f"{description} Configuration comes from the environment "
        "(see docs/configuration.md).",
    )
    parser.add_argument(
        "--burst", action="store_true", help="process until the stream is idle, then exit"
    )
    args = parser.parse_args(argv)
    settings = load_settings(settings_class)
    configure_logging(settings, service=service)
    if preflight is not None:
        preflight(settings)
    asyncio.run(run(settings, burst=args.burst))
