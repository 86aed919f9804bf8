"""Rendering a scrape, in one process or summed over the processes of a multi-process API.

prometheus_client's multi-process mode: with `PROMETHEUS_MULTIPROC_DIR` in the environment when
a process first imports prometheus_client, every metric object writes its values to files of
that process in the directory, and a scrape (whichever process answers it) adds up the files of
all processes. The API's supervisor prepares the directory before it starts its processes
(`prepare_multiprocess_dir`) and removes a dead process's live gauges (`process_exited`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy.ext.asyncio import AsyncEngine

from lumi_common.metrics.pool import sample_pool
from lumi_common.metrics.scrape import ScrapeCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def prepare_multiprocess_dir(path: Path) -> None:
    """Create the directory, empty of a previous run's files (counters must start at zero),
    and name it to the processes started from here on."""
    path.mkdir(parents=True, exist_ok=True)
    for leftover in path.glob("*.db"):
        leftover.unlink()
    os.environ[MULTIPROC_ENV] = str(path)


def process_exited(pid: int) -> None:
    path = multiprocess_dir()
    if path is not None:
        mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]  # untyped upstream


class Exposition:
    """What one service exposes: the metric objects of `series` (this process's, or all
    processes' in multi-process mode), its per-scrape collectors and, with `engine`, its
    database pool as it is at the scrape."""

    def __init__(
        self, scrapes: Sequence[ScrapeCollector] = (), *, engine: AsyncEngine | None = None
    ) -> None:
        self.scrapes = tuple(scrapes)
        self.engine = engine
        self.registry = CollectorRegistry(auto_describe=False)
        directory = multiprocess_dir()
        if directory is not None:
            # untyped upstream; registers itself in the registry
            MultiProcessCollector(self.registry, path=str(directory))  # type: ignore[no-untyped-call]
        else:
            self.registry.register(REGISTRY)
        for scrape in self.scrapes:
            self.registry.register(scrape)

    async def render(self) -> bytes:
        if self.engine is not None:
            sample_pool(self.engine)
        await asyncio.gather(*(scrape.refresh() for scrape in self.scrapes))
        return generate_latest(self.registry)
