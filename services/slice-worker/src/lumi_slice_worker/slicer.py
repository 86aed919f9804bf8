"""PrusaSlicer's command line, run headless on one prepared STL in a temporary directory:

    prusa-slicer --export-gcode --datadir <tmp>/config --load printer.ini --load <profile>.ini
                 --center X,Y --ensure-on-bed --output <tmp>/model.gcode <tmp>/model.stl

What it cannot do for this model (no layers, does not fit, unreadable, out of memory) is a
permanent error with a catalogue reason for the user (`ModelNotSliceable`); a time-out, a crash
or an unknown failure is retryable (another attempt, maybe on a quieter machine, may succeed;
the attempts are bounded).
The temporary directory is removed whatever happens.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

import structlog

from lumi_common.i18n import slices as texts
from lumi_slice_worker.errors import ModelNotSliceable, SlicerFailed, SlicerTimedOut
from lumi_slice_worker.gcode import GcodeSummary, summarize_file
from lumi_slice_worker.process import Finished, Limits, TimedOut, run_limited
from lumi_slice_worker.profiles import Profile

TEMP_PREFIX = "lumi-slice-"
INPUT, OUTPUT = "model.stl", "model.gcode"

# what PrusaSlicer prints when this model cannot be sliced, and why the user is told it cannot
_CANNOT_SLICE = (
    ("bad_alloc", texts.REASON_OUT_OF_MEMORY),
    ("No layers were detected", texts.REASON_NO_LAYERS),
    ("could not fit on the bed", texts.REASON_DOES_NOT_FIT),
    ("Loading of a model file failed", texts.REASON_SLICER_CANNOT_READ),
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SlicerConfig:
    binary: str
    limits: Limits
    work_dir: Path | None  # None: the system's temporary directory


@dataclass(frozen=True, slots=True)
class Sliced:
    gcode: bytes
    summary: GcodeSummary
    seconds: float


async def slice_stl(stl: bytes, profile: Profile, config: SlicerConfig) -> Sliced:
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX, dir=config.work_dir) as name:
        work = Path(name)
        await asyncio.to_thread((work / INPUT).write_bytes, stl)
        started = asyncio.get_running_loop().time()
        finished = await _run(command(config.binary, profile, work), work, config.limits)
        seconds = asyncio.get_running_loop().time() - started
        _check(finished)
        output = work / OUTPUT
        if not output.is_file():
            raise ModelNotSliceable(texts.REASON_NO_GCODE(), detail=finished.last_line)
        summary = await asyncio.to_thread(summarize_file, output)
        if summary.extrusion_moves == 0 or summary.layer_count == 0:
            raise ModelNotSliceable(texts.REASON_PRINTS_NOTHING())
        return Sliced(await asyncio.to_thread(output.read_bytes), summary, seconds)


def command(binary: str, profile: Profile, work: Path) -> list[str]:
    loads = [arg for path in profile.files for arg in ("--load", str(path))]
    x, y = profile.bed_center
    return [
        binary,
        "--export-gcode",
        "--loglevel=1",  # errors only: its progress lines are not worth keeping
        # an empty data directory of its own: no user or machine configuration leaks in
        f"--datadir={work / 'config'}",
        *loads,
        f"--center={x:g},{y:g}",
        "--ensure-on-bed",
        f"--output={work / OUTPUT}",
        str(work / INPUT),
    ]


async def _run(argv: list[str], work: Path, limits: Limits) -> Finished:
    try:
        return await run_limited(argv, cwd=work, limits=limits)
    except TimedOut:
        raise SlicerTimedOut(limits.timeout_seconds) from None
    except OSError as error:  # the binary is missing or not executable
        raise SlicerFailed(f"the slicer could not be started: {error}") from error


def _check(finished: Finished) -> None:
    if finished.returncode == 0:
        return
    for marker, reason in _CANNOT_SLICE:
        if marker in finished.output:
            raise ModelNotSliceable(reason())
    log.warning("slicer.failed", returncode=finished.returncode, output=finished.output[-2000:])
    if finished.returncode < 0:
        name = signal.Signals(-finished.returncode).name
        raise SlicerFailed(f"the slicer was killed by {name}")
    raise SlicerFailed(f"the slicer failed (exit {finished.returncode}): {finished.last_line}")
