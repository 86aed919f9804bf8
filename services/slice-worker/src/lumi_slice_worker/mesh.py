"""The STL the slicer gets: the model's mesh, Z up, in millimetres, at its print size, standing
on the bed and no larger than the bed.

The model stage stores a print STL in real millimetres (Z up) and the model's size; older models
have only the viewer OBJ (Y up, any unit), which is turned upright and scaled here. A mesh with
nothing to print (no triangles, flat, a line or a point) is refused with a message that says so,
before the slicer would fail on it with a less helpful one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
import trimesh

from lumi_common.i18n import Text
from lumi_common.i18n import slices as texts

MeshFormat = Literal["stl", "obj"]

# the smallest extent a printable model has along every axis, after scaling (a 0.4 mm nozzle
# lays 0.2 mm layers: below that nothing comes out)
MIN_EXTENT_MM = 0.2
# the model keeps this much space from the bed's edges (skirt, purge line)
BED_MARGIN_MM = 10.0
# Y up → Z up: a quarter turn about X, (x, y, z) → (x, -z, y)
_Y_UP_TO_Z_UP = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


class UnprintableMesh(ValueError):
    """The mesh has nothing a printer could print; `reason` says why, for the user (a catalogue
    sentence; the exception's text is its English)."""

    def __init__(self, reason: Text) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Bed:
    width_mm: float
    depth_mm: float
    height_mm: float


@dataclass(frozen=True, slots=True)
class PrintSize:
    """The model's real size, as the model row knows it (any axis may be unknown)."""

    x_mm: float | None = None
    y_mm: float | None = None
    z_mm: float | None = None

    def axes(self) -> list[float | None]:
        return [self.x_mm, self.y_mm, self.z_mm]


@dataclass(frozen=True, slots=True)
class PreparedMesh:
    stl: bytes
    size_mm: tuple[float, float, float]
    scale: float  # applied to the source's units
    fitted_to_bed: bool  # scaled down further because it was larger than the bed
    faces: int


def prepare(
    data: bytes,
    fmt: MeshFormat,
    *,
    size: PrintSize,
    bed: Bed,
    default_size_mm: float,
) -> PreparedMesh:
    """Blocking (numpy): call it in a thread."""
    mesh = _load(data, fmt)
    if fmt == "obj":
        mesh.apply_transform(_Y_UP_TO_Z_UP)
    extents = _check_shape(mesh)
    scale = _scale_for(extents, size, default_size_mm=default_size_mm if fmt == "obj" else None)
    fit = min(
        1.0,
        (bed.width_mm - 2 * BED_MARGIN_MM) / (extents[0] * scale),
        (bed.depth_mm - 2 * BED_MARGIN_MM) / (extents[1] * scale),
        bed.height_mm / (extents[2] * scale),
    )
    mesh.apply_transform(np.diag([scale * fit] * 3 + [1.0]))
    final = mesh.extents
    if float(final.min()) < MIN_EXTENT_MM:
        raise UnprintableMesh(texts.REASON_TOO_THIN(size=_mm(final), min_mm=MIN_EXTENT_MM))
    low, high = mesh.bounds
    # centred on the origin, standing on Z = 0; the slicer then centres it on the bed
    mesh.apply_translation([-(low[0] + high[0]) / 2, -(low[1] + high[1]) / 2, -low[2]])
    stl = mesh.export(file_type="stl")
    assert isinstance(stl, bytes)
    x, y, z = (round(float(value), 2) for value in final)
    return PreparedMesh(
        stl=stl,
        size_mm=(x, y, z),
        # plain Python numbers: numpy's do not serialise to JSON
        scale=float(scale * fit),
        fitted_to_bed=bool(fit < 1.0),
        faces=len(mesh.faces),
    )


def _load(data: bytes, fmt: MeshFormat) -> trimesh.Trimesh:
    # numpy's warnings on degenerate input (a zero area, a NaN) are the refusals below
    with np.errstate(all="ignore"):
        try:
            mesh = trimesh.load_mesh(io.BytesIO(data), file_type=fmt)
        except (ValueError, IndexError, KeyError, TypeError) as error:
            raise UnprintableMesh(texts.REASON_UNREADABLE(format=fmt.upper())) from error
    if len(mesh.faces) == 0:
        raise UnprintableMesh(texts.REASON_NO_TRIANGLES(format=fmt.upper()))
    return mesh


def _check_shape(mesh: trimesh.Trimesh) -> np.ndarray:
    extents = np.asarray(mesh.extents, dtype=np.float64)
    if not np.all(np.isfinite(extents)):
        raise UnprintableMesh(texts.REASON_NOT_NUMBERS())
    longest = float(extents.max())
    if longest <= 0 or float(extents.min()) <= longest * 1e-6:
        raise UnprintableMesh(texts.REASON_FLAT(size=_mm(extents)))
    return extents


def _scale_for(extents: np.ndarray, size: PrintSize, *, default_size_mm: float | None) -> float:
    """Uniform: the largest factor that keeps every known size; else the longest side to the
    default size (a model in unknown units); else 1 (the STL is in millimetres already)."""
    factors = [
        known / float(extent)
        for known, extent in zip(size.axes(), extents, strict=True)
        if known is not None and known > 0
    ]
    if factors:
        return min(factors)
    if default_size_mm is not None:
        return default_size_mm / float(extents.max())
    return 1.0


def _mm(extents: np.ndarray) -> str:
    """`40 × 40 × 0`: the sentence adds the unit, in its language."""
    return " × ".join(f"{float(value):.3g}" for value in extents)
