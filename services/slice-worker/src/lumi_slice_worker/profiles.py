"""The slicing profiles shipped in `ini/`: `printer.ini` (the printer, loaded first) and one
`<name>.ini` per `SliceProfile` (material and print settings). PrusaSlicer reads them with
`--load`; this module reads only the bed from them, to scale and place models."""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lumi_common.slice_profiles import SliceProfile
from lumi_slice_worker.mesh import Bed

PRINTER_FILE = "printer.ini"


class ProfileError(RuntimeError):
    """The shipped profiles are incomplete or unreadable: the worker must not start."""


@dataclass(frozen=True, slots=True)
class Profile:
    name: SliceProfile
    files: tuple[Path, ...]  # in `--load` order: later files override earlier ones
    bed: Bed
    bed_center: tuple[float, float]


class Profiles:
    def __init__(self, folder: Path) -> None:
        printer = folder / PRINTER_FILE
        settings = _read(printer)
        self.bed, self.bed_center = _bed(settings, printer)
        self._by_name: dict[SliceProfile, Profile] = {}
        for name in SliceProfile:
            path = folder / f"{name.value}.ini"
            _read(path)  # every shipped profile is checked at start-up, not at its first use
            self._by_name[name] = Profile(name, (printer, path), self.bed, self.bed_center)

    def __getitem__(self, name: SliceProfile) -> Profile:
        return self._by_name[name]


def shipped_folder() -> Path:
    folder = resources.files("lumi_slice_worker") / "ini"
    return Path(str(folder))


def _read(path: Path) -> configparser.SectionProxy:
    """PrusaSlicer's `.ini` is `key = value` lines without a section."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    try:
        parser.read_string("[profile]\n" + path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, configparser.Error) as error:
        raise ProfileError(f"slicing profile {path.name}: {error}") from error
    return parser["profile"]


def _bed(settings: configparser.SectionProxy, path: Path) -> tuple[Bed, tuple[float, float]]:
    try:
        corners = [
            tuple(float(value) for value in point.split("x"))
            for point in settings["bed_shape"].split(",")
        ]
        height = float(settings["max_print_height"])
    except (KeyError, ValueError) as error:
        raise ProfileError(f"{path.name}: bed_shape and max_print_height needed: {error}") from None
    xs = [corner[0] for corner in corners]
    ys = [corner[1] for corner in corners]
    bed = Bed(width_mm=max(xs) - min(xs), depth_mm=max(ys) - min(ys), height_mm=height)
    return bed, ((max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2)
