"""The shipped slicing profiles: one file per name the API accepts, and the bed they describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumi_common.slice_profiles import DEFAULT_SLICE_PROFILE, SliceProfile
from lumi_slice_worker.mesh import Bed
from lumi_slice_worker.profiles import PRINTER_FILE, ProfileError, Profiles, shipped_folder


def test_every_profile_name_has_a_file_and_every_file_a_name() -> None:
    files = {path.stem for path in shipped_folder().glob("*.ini")} - {Path(PRINTER_FILE).stem}
    assert files == {profile.value for profile in SliceProfile}
    assert DEFAULT_SLICE_PROFILE in SliceProfile


def test_profiles_load_the_printer_first_and_know_its_bed() -> None:
    profiles = Profiles(shipped_folder())
    profile = profiles[SliceProfile.GENERIC_PLA_020]
    assert [path.name for path in profile.files] == [PRINTER_FILE, "generic-pla-0.20mm.ini"]
    assert profile.bed == Bed(width_mm=220, depth_mm=220, height_mm=250)
    assert profile.bed_center == (110, 110)


def test_a_missing_profile_stops_the_worker(tmp_path: Path) -> None:
    (tmp_path / PRINTER_FILE).write_text((shipped_folder() / PRINTER_FILE).read_text())
    with pytest.raises(ProfileError, match=r"generic-pla-0\.20mm\.ini"):
        Profiles(tmp_path)


def test_a_printer_without_a_bed_stops_the_worker(tmp_path: Path) -> None:
    (tmp_path / PRINTER_FILE).write_text("nozzle_diameter = 0.4\n")
    with pytest.raises(ProfileError, match="bed_shape"):
        Profiles(tmp_path)
