"""The STL the slicer gets: upright, at the model's print size, within the bed; nothing to
print is refused with a message for the user."""

from __future__ import annotations

import io

import numpy as np
import pytest
import trimesh

from lumi_slice_worker.mesh import (
    BED_MARGIN_MM,
    Bed,
    MeshFormat,
    PrintSize,
    UnprintableMesh,
    prepare,
)
from tests.support.slicer import box_stl, flat_stl

BED = Bed(width_mm=220, depth_mm=220, height_mm=250)
UNKNOWN = PrintSize()


def extents(stl: bytes) -> list[float]:
    mesh = trimesh.load(io.BytesIO(stl), file_type="stl", force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    low, high = mesh.bounds
    assert low[2] == pytest.approx(0, abs=1e-4), "the model stands on the bed"
    assert (low[0] + high[0]) / 2 == pytest.approx(0, abs=1e-4)
    assert (low[1] + high[1]) / 2 == pytest.approx(0, abs=1e-4)
    return [round(float(value), 3) for value in mesh.extents]


def obj_box(size: tuple[float, float, float]) -> bytes:
    data = trimesh.creation.box(extents=size).export(file_type="obj")
    assert isinstance(data, str)
    return data.encode()


def test_an_stl_in_millimetres_keeps_its_size() -> None:
    prepared = prepare(box_stl((20, 30, 10)), "stl", size=UNKNOWN, bed=BED, default_size_mm=100)
    assert extents(prepared.stl) == [20, 30, 10]
    assert prepared.size_mm == (20.0, 30.0, 10.0)
    assert prepared.scale == pytest.approx(1)
    assert not prepared.fitted_to_bed


def test_the_size_columns_scale_the_model_uniformly() -> None:
    size = PrintSize(x_mm=40, y_mm=None, z_mm=None)
    prepared = prepare(box_stl((20, 30, 10)), "stl", size=size, bed=BED, default_size_mm=100)
    assert extents(prepared.stl) == [40, 60, 20]
    # two sizes that disagree: the smaller factor wins, so no side exceeds its size
    size = PrintSize(x_mm=40, y_mm=30, z_mm=None)
    prepared = prepare(box_stl((20, 30, 10)), "stl", size=size, bed=BED, default_size_mm=100)
    assert extents(prepared.stl) == [20, 30, 10]


def test_an_obj_is_turned_z_up_and_scaled_to_the_default_size() -> None:
    # Y up, unit-sized: 1 wide, 0.5 tall, 0.25 deep
    prepared = prepare(obj_box((1, 0.5, 0.25)), "obj", size=UNKNOWN, bed=BED, default_size_mm=80)
    assert extents(prepared.stl) == [80, 20, 40]


def test_a_model_larger_than_the_bed_is_scaled_down_to_fit() -> None:
    prepared = prepare(box_stl((400, 100, 300)), "stl", size=UNKNOWN, bed=BED, default_size_mm=100)
    width, depth, height = extents(prepared.stl)
    assert width == pytest.approx(220 - 2 * BED_MARGIN_MM)
    assert depth <= 220 - 2 * BED_MARGIN_MM
    assert height <= 250
    assert prepared.fitted_to_bed


@pytest.mark.parametrize(
    ("data", "fmt", "reason"),
    [
        (flat_stl(), "stl", "flat"),
        (b"", "obj", "no triangles"),
        (b"solid nothing\nendsolid nothing\n", "stl", "no triangles"),
        (b"v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n", "obj", "flat"),
        (b"\x00" * 84, "stl", "no triangles"),
    ],
)
def test_a_mesh_with_nothing_to_print_is_refused_with_the_reason(
    data: bytes, fmt: MeshFormat, reason: str
) -> None:
    with pytest.raises(UnprintableMesh, match=reason):
        prepare(data, fmt, size=UNKNOWN, bed=BED, default_size_mm=100)


def test_a_model_too_thin_at_its_print_size_is_refused() -> None:
    with pytest.raises(UnprintableMesh, match="too thin"):
        prepare(box_stl((50, 50, 0.05)), "stl", size=UNKNOWN, bed=BED, default_size_mm=100)


def test_the_prepared_stl_is_binary_and_watertight_when_the_source_is() -> None:
    prepared = prepare(box_stl(), "stl", size=UNKNOWN, bed=BED, default_size_mm=100)
    mesh = trimesh.load(io.BytesIO(prepared.stl), file_type="stl", force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    assert mesh.is_watertight
    assert not prepared.stl.startswith(b"solid")
    assert np.isfinite(mesh.vertices).all()
