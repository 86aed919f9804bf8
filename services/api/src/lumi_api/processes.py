"""Serving: one API process, or `API_PROCESSES` of them on one port (one per core).

A process runs its event loop on one core, so a host with several cores serves with several
processes. Each is a whole API (its own pools, caches and outbox relay; relays share the outbox
safely, `FOR UPDATE SKIP LOCKED`) bound with SO_REUSEPORT, so the kernel spreads new connections
over them. The parent only supervises: it passes SIGTERM and SIGINT on as SIGTERM, and when one
process exits unasked it stops the others and exits non-zero, so the orchestrator restarts the
set instead of a host quietly serving at part of its capacity. A process whose parent is gone
(killed with SIGKILL) stops by itself. Metrics are summed over the processes through the files of
prometheus_client's multi-process mode (`MetricsDir`), so any process answers a scrape whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

import structlog
from aiohttp import web

from lumi_api.app import create_app
from lumi_api.metrics_dir import MetricsDir
from lumi_api.settings import ApiSettings
from lumi_common.logging import configure_logging

# after passing a stop on, how much longer than the shutdown grace a process may take
STOP_MARGIN_SECONDS = 5.0
ORPHAN_CHECK_SECONDS = 1.0

log = structlog.get_logger("lumi_api")


def serve(settings: ApiSettings, *, parent: int | None = None) -> None:
    """Serve in this process; with `parent`, as one of several (SO_REUSEPORT) under it."""
    app = create_app(settings)
    app.on_startup.append(_freeze_startup_objects)  # last: after the pools and clients opened
    if parent is not None:
        app.cleanup_ctx.append(_stop_when_orphaned(parent))
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        reuse_port=parent is not None or None,
        shutdown_timeout=settings.shutdown_grace_seconds,
        access_log=None,
        print=None,
    )


async def _freeze_startup_objects(_: web.Application) -> None:
    """Exempt what start-up built (modules, routes, table metadata, pools) from the garbage
    collector for the process's life: a full collection walked all of it, stalling every request
    in flight (what it cost the p99: docs/performance.md, "API, 2026-11-29 03:00–04:00 UTC").
    Only here, where the process serves: a test process builds many apps."""
    gc.freeze()


class Supervisor:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        # spawned, not forked: each process starts clean (no inherited loop, pool or handler)
        context = multiprocessing.get_context("spawn")
        self.children: list[BaseProcess] = [
            context.Process(target=_child, args=(settings, os.getpid()), name=f"lumi-api-{i}")
            for i in range(settings.api_processes)
        ]
        self.metrics = MetricsDir(enabled=settings.metrics_enabled)
        self.stop_by: float | None = None  # set once a stop was passed on
        self.exit_code = 0

    def run(self) -> int:
        """Start the processes and wait for them; the exit code."""
        with self.metrics:
            return self._run()

    def _run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for child in self.children:
            child.start()
        if self.stop_by is not None:  # a signal came while they were starting
            self._terminate()
        log.info(
            "api.processes.started",
            pids=[child.pid for child in self.children],
            metrics_dir=str(self.metrics.path) if self.metrics.path else None,
        )
        running = list(self.children)
        while running:
            timeout = None if self.stop_by is None else max(0.0, self.stop_by - time.monotonic())
            ready = wait([child.sentinel for child in running], timeout)
            if not ready:  # past the grace: what is left is stuck
                for child in running:
                    child.kill()
                self.exit_code = 1
            for child in [c for c in running if not ready or c.sentinel in ready]:
                running.remove(child)
                child.join()
                self._exited(child)
        return self.exit_code

    def _exited(self, child: BaseProcess) -> None:
        if child.pid is not None:
            self.metrics.process_exited(child.pid)
        if self.stop_by is None:
            log.error("api.process.exited", pid=child.pid, exit_code=child.exitcode)
            self.exit_code = 1
            self.stop()
        elif child.exitcode != 0:
            self.exit_code = 1

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """Once: a second SIGTERM would cut a process's graceful shutdown short."""
        if self.stop_by is not None:
            return
        self.stop_by = time.monotonic() + self.settings.shutdown_grace_seconds + STOP_MARGIN_SECONDS
        self._terminate()

    def _terminate(self) -> None:
        for child in self.children:
            if child.is_alive():
                child.terminate()  # SIGTERM: aiohttp's graceful shutdown


def _child(settings: ApiSettings, parent: int) -> None:
    # its own process group: a terminal's Ctrl-C reaches the parent, which stops each child once
    os.setpgrp()
    configure_logging(settings, service="api")
    serve(settings, parent=parent)


def _stop_when_orphaned(
    parent: int,
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def watch(_: web.Application) -> AsyncIterator[None]:
        async def check() -> None:
            # nothing announces a parent's death: a re-parented process sees another ppid
            while True:
                await asyncio.sleep(ORPHAN_CHECK_SECONDS)
                if os.getppid() != parent:
                    log.warning("api.process.orphaned", parent=parent)
                    os.kill(os.getpid(), signal.SIGTERM)
                    return

        task = asyncio.create_task(check())
        yield
        task.cancel()

    return watch
