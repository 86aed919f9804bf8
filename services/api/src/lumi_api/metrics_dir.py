"""The directory where the processes of a multi-process API keep their metric values.

prometheus_client's multi-process mode is chosen when a process first imports it, by
`PROMETHEUS_MULTIPROC_DIR` in its environment: the supervisor names the directory before it
starts its (spawned) processes, which inherit the environment. It is emptied at every start, so
counters begin at zero with the set of processes (as a single process's do), and a process that
exits takes its live gauges (the pool in use) with it. An operator's own
`PROMETHEUS_MULTIPROC_DIR` is used (and emptied) as is; otherwise a temporary one is made and
removed at the end.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from lumi_common.metrics.exposition import (
    multiprocess_dir,
    prepare_multiprocess_dir,
    process_exited,
)


class MetricsDir:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.path: Path | None = None
        self._made = False

    def __enter__(self) -> MetricsDir:
        if not self.enabled:
            return self
        self.path = multiprocess_dir()
        if self.path is None:
            self.path, self._made = Path(tempfile.mkdtemp(prefix="lumi-metrics-")), True
        prepare_multiprocess_dir(self.path)
        return self

    def process_exited(self, pid: int) -> None:
        if self.path is not None:
            process_exited(pid)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._made and self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
