"""Progress of long operations, and stopping them cleanly on Ctrl-C.

On a terminal, a tqdm bar on stderr; otherwise (a pipe, `kubectl exec` without `-t`, a log) a
plain line on stderr at every tenth; with `--json`, nothing but the JSON on stdout. tqdm rather
than rich: one small pure-Python package without dependencies (rich would bring pygments and
markdown-it into the API image for one bar), and it is imported only when a bar is drawn.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Literal

Mode = Literal["bar", "lines", "off"]
FALLBACK_COLUMNS = 80


def mode_for(*, as_json: bool) -> Mode:
    if as_json:
        return "off"
    return "bar" if sys.stderr.isatty() else "lines"


class Progress:
    def __init__(self, label: str, total: int, *, unit: str, mode: Mode) -> None:
        self.label, self.unit, self.mode = label, unit, mode
        self.total = self.done = 0
        self._bar: Any = None
        self._next_tenth = 1
        if total > 0:
            self.start(total)

    def start(self, total: int) -> None:
        """Once the total is known (it may be only after connecting)."""
        self.total = total
        if self.mode == "bar" and total > 0:
            from tqdm import tqdm

            # a terminal that reports no width (some `exec -t` sessions) would get an empty bar
            width = os.get_terminal_size(sys.stderr.fileno()).columns or FALLBACK_COLUMNS
            self._bar = tqdm(
                total=total, desc=self.label, unit=f" {self.unit}", file=sys.stderr, ncols=width
            )

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
        elif self.mode == "lines" and self.total > 0:
            tenth = self.done * 10 // self.total
            if tenth >= self._next_tenth:
                self._next_tenth = tenth + 1
                percent = self.done * 100 // self.total
                sys.stderr.write(
                    f"{self.label}: {self.done}/{self.total} {self.unit} ({percent}%)\n"
                )
                sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextmanager
def progress(label: str, total: int, *, unit: str, mode: Mode) -> Iterator[Progress]:
    bar = Progress(label, total, unit=unit, mode=mode)
    try:
        yield bar
    finally:
        bar.close()


@contextmanager
def stop_on_interrupt(item: str) -> Iterator[Callable[[], bool]]:
    """While inside, Ctrl-C (SIGINT) and SIGTERM ask the operation to stop after the current
    `item` instead of killing it halfway; the operation polls the function yielded."""
    requested = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if not requested.is_set():
            sys.stderr.write(f"\nlumi: stopping after the current {item}\n")
            sys.stderr.flush()
        requested.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested.is_set
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
