"""PrusaSlicer's command line on prepared models: real G-code with its metadata, and every way
a slice can fail mapped to a permanent or a retryable error, with nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.slice_profiles import SliceProfile
from lumi_slice_worker.mesh import PrintSize, prepare
from lumi_slice_worker.process import Limits
from lumi_slice_worker.profiles import Profile, Profiles, shipped_folder
from lumi_slice_worker.slicer import TEMP_PREFIX, SlicerConfig, slice_stl
from tests.support.slicer import (
    HANGING,
    alive,
    box_stl,
    fake_slicer,
    hanging_pids,
    real_slicer,
)

PROFILES = Profiles(shipped_folder())
PLA = PROFILES[SliceProfile.GENERIC_PLA_020]
LIMITS = Limits(timeout_seconds=120, memory_bytes=2048 << 20)


def prepared(stl: bytes, profile: Profile = PLA) -> bytes:
    return prepare(stl, "stl", size=PrintSize(), bed=profile.bed, default_size_mm=100).stl


def empty(folder: Path) -> bool:
    return not any(folder.iterdir())


def config(binary: str | Path, work_dir: Path, limits: Limits = LIMITS) -> SlicerConfig:
    return SlicerConfig(binary=str(binary), limits=limits, work_dir=work_dir)


@pytest.mark.parametrize("name", list(SliceProfile))
async def test_every_profile_slices_a_model_into_printable_gcode(
    name: SliceProfile, tmp_path: Path
) -> None:
    binary = real_slicer()
    sliced = await slice_stl(
        prepared(box_stl((20, 20, 10))), PROFILES[name], config(binary, tmp_path)
    )
    summary = sliced.summary
    assert b"\nG1 X" in sliced.gcode
    assert summary.extrusion_moves > 100
    layer = summary.numbers["layer_height_mm"]
    assert summary.layer_count == pytest.approx(10 / layer, abs=1)
    assert summary.print_height_mm == pytest.approx(10, abs=layer)
    assert (summary.print_time_seconds or 0) > 60
    assert summary.numbers["filament_weight_g"] > 0
    assert (summary.slicer or "").startswith("PrusaSlicer")
    assert empty(tmp_path), "the temporary directory is removed"


async def test_the_model_is_centred_on_the_bed(tmp_path: Path) -> None:
    sliced = await slice_stl(prepared(box_stl((20, 20, 2))), PLA, config(real_slicer(), tmp_path))
    xs, ys = [], []
    layer = 0
    for line in sliced.gcode.decode().splitlines():
        layer += line.startswith(";LAYER_CHANGE")
        words = line.split()
        if layer >= 2 and words[:1] == ["G1"] and any(w.startswith("E") for w in words):
            xs += [float(w[1:]) for w in words if w.startswith("X")]
            ys += [float(w[1:]) for w in words if w.startswith("Y")]
    center_x, center_y = PLA.bed_center
    assert (min(xs) + max(xs)) / 2 == pytest.approx(center_x, abs=0.5)
    assert (min(ys) + max(ys)) / 2 == pytest.approx(center_y, abs=0.5)
    assert max(xs) - min(xs) == pytest.approx(20, abs=1)


async def test_a_model_too_small_for_any_layer_fails_permanently(tmp_path: Path) -> None:
    """Past the mesh checks (called directly): the slicer's own refusal, in words for the user."""
    with pytest.raises(PermanentError, match="no layers"):
        await slice_stl(box_stl((0.01, 0.01, 0.01)), PLA, config(real_slicer(), tmp_path))
    assert empty(tmp_path)


async def test_a_slicer_that_hangs_is_killed_at_the_time_limit(tmp_path: Path) -> None:
    fakes, work = tmp_path / "bin", tmp_path / "work"
    work.mkdir()
    binary = fake_slicer(fakes, HANGING)
    limits = Limits(timeout_seconds=1.5, memory_bytes=None)
    with pytest.raises(RetryableError, match=r"did not finish within 1\.5 s"):
        await slice_stl(prepared(box_stl()), PLA, config(binary, work, limits))
    assert not any(alive(pid) for pid in hanging_pids(fakes))
    assert empty(work)


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ("print('Objects could not fit on the bed'); sys.exit(134)", PermanentError, "bed"),
        ('print("terminate: std::bad_alloc"); sys.exit(1)', PermanentError, "memory"),
        ("print('something odd happened'); sys.exit(3)", RetryableError, "something odd"),
        ("os.kill(os.getpid(), 9)", RetryableError, "SIGKILL"),
        ("sys.exit(0)", PermanentError, "wrote no G-code"),
    ],
)
async def test_failures_are_permanent_only_when_retrying_cannot_help(
    tmp_path: Path, body: str, error: type[Exception], message: str
) -> None:
    binary = fake_slicer(tmp_path / "bin", body)
    with pytest.raises(error, match=message):
        await slice_stl(prepared(box_stl()), PLA, config(binary, tmp_path / "bin"))
    assert not [p for p in (tmp_path / "bin").iterdir() if p.name.startswith(TEMP_PREFIX)]


async def test_a_missing_binary_is_retryable(tmp_path: Path) -> None:
    with pytest.raises(RetryableError, match="could not be started"):
        await slice_stl(prepared(box_stl()), PLA, config(tmp_path / "nothing", tmp_path))
    assert empty(tmp_path)
