"""Provider model files (GLB, OBJ in a zip) become the viewer files (Y up, unit-sized, centred)
and the print STL (millimetres, Z up, on the bed), on real files made here with trimesh."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import trimesh
from PIL import Image

from lumi_common.errors import PermanentError
from lumi_model_worker.providers.mesh_formats import (
    TexturedMesh,
    glb_bytes,
    mtl_bytes,
    obj_bytes,
    png_bytes,
)
from lumi_model_worker.providers.model_files import (
    MTL_FILE,
    OBJ_FILE,
    VIEWER_SIZE,
    MeshArtifacts,
    convert,
    decimate,
)
from lumi_model_worker.providers.model_reader import MAX_TEXTURE_PX, read_model

PRINT_MM = 120.0


GRADIENT = Image.linear_gradient("L").convert("RGB").resize((64, 64))


def figurine(*, subdivisions: int = 3, height: float = 2.5) -> TexturedMesh:
    """A tall textured 'figurine' as providers send it: glTF's Y up, metres, off-centre."""
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    vertices = sphere.vertices * [0.4, height / 2, 0.3] + [3.0, 7.0, -2.0]
    local = vertices - vertices.mean(axis=0)
    u = np.arctan2(local[:, 0], local[:, 2]) / (2 * np.pi) + 0.5
    v = (local[:, 1] - local[:, 1].min()) / np.ptp(local[:, 1])
    return TexturedMesh(
        vertices=vertices, faces=np.asarray(sphere.faces), uv=np.column_stack([u, v])
    )


def glb_of(mesh: TexturedMesh, texture: Image.Image = GRADIENT) -> bytes:
    return glb_bytes(mesh, texture)


def converted(data: bytes, file_type: str = "glb", *, max_faces: int = 100_000) -> MeshArtifacts:
    mesh, texture = read_model(data, file_type)
    return convert(mesh, texture, up="y", print_size_mm=PRINT_MM, max_faces=max_faces)


def load_written_obj(artifacts: MeshArtifacts, folder: Path) -> trimesh.Trimesh:
    for name, data in artifacts.files().items():
        (folder / name).write_bytes(data)
    resolver = trimesh.resolvers.FilePathResolver(str(folder))
    with (folder / OBJ_FILE).open("rb") as obj:
        mesh = trimesh.load(obj, file_type="obj", resolver=resolver, force="mesh", process=False)
    assert isinstance(mesh, trimesh.Trimesh)
    return mesh


def load(data: bytes, file_type: str) -> trimesh.Trimesh:
    mesh = trimesh.load(io.BytesIO(data), file_type=file_type, force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    return mesh


def test_obj_mtl_and_texture_load_back_with_the_same_counts(tmp_path: Path) -> None:
    artifacts = converted(glb_of(figurine()))
    mesh = load_written_obj(artifacts, tmp_path)
    assert (len(mesh.vertices), len(mesh.faces)) == (artifacts.vertex_count, artifacts.face_count)
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals)
    assert mesh.visual.uv.shape == (artifacts.vertex_count, 2)
    mtl_lines = artifacts.mtl.decode().splitlines()
    texture_name = next(line.split()[-1] for line in mtl_lines if line.startswith("map_Kd"))
    assert (tmp_path / texture_name).is_file()
    with Image.open(tmp_path / texture_name) as texture:
        assert texture.format == "PNG"
        assert texture.size == (64, 64)
    assert f"mtllib {MTL_FILE}" in artifacts.obj.decode()


def test_viewer_files_are_y_up_unit_sized_and_centred(tmp_path: Path) -> None:
    artifacts = converted(glb_of(figurine(height=2.5)))
    for mesh in (load_written_obj(artifacts, tmp_path), load(artifacts.glb, "glb")):
        low, high = mesh.bounds
        extent = high - low
        assert extent.max() == pytest.approx(VIEWER_SIZE)
        assert int(np.argmax(extent)) == 1  # the tall figurine still stands along Y
        assert (low + high) / 2 == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)


def test_the_print_copy_is_z_up_millimetres_on_the_bed() -> None:
    artifacts = converted(glb_of(figurine(height=2.5)))
    solid = load(artifacts.stl, "stl")
    low, high = solid.bounds
    extent = high - low
    assert int(np.argmax(extent)) == 2  # standing up on the bed
    assert extent[2] == pytest.approx(PRINT_MM)
    assert low[2] == pytest.approx(0.0, abs=1e-9)
    assert ((low + high) / 2)[:2] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert artifacts.size_mm == pytest.approx(tuple(extent))
    # the front (+Z in glTF) faces the viewer of a Z-up scene (-Y): the thin side is Y
    assert extent[1] < extent[0]


def test_a_mesh_over_the_face_limit_is_decimated_and_keeps_its_texture(tmp_path: Path) -> None:
    dense = figurine(subdivisions=5)  # 20,480 faces
    artifacts = converted(glb_of(dense), max_faces=2_000)
    assert artifacts.face_count <= 2_100
    mesh = load_written_obj(artifacts, tmp_path)
    assert (len(mesh.vertices), len(mesh.faces)) == (artifacts.vertex_count, artifacts.face_count)
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals)
    # texture coordinates were carried, not zeroed: they still span the picture
    assert np.ptp(mesh.visual.uv[:, 1]) > 0.9


def test_decimation_maps_every_kept_vertex_to_a_texture_coordinate() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4)
    uv = (sphere.vertices[:, :2] + 1) / 2
    mesh = TexturedMesh(vertices=sphere.vertices, faces=np.asarray(sphere.faces), uv=uv)
    smaller = decimate(mesh, 500)
    assert len(smaller.faces) <= 520
    assert smaller.uv.shape == (len(smaller.vertices), 2)
    # each kept vertex took the coordinate of a vertex merged into it, nearby on the sphere
    nearest = np.linalg.norm(smaller.vertices[:, None, :2] - sphere.vertices[None, :, :2], axis=2)
    assert np.abs(smaller.uv - uv[nearest.argmin(axis=1)]).max() < 0.35


def test_a_scene_of_parts_becomes_one_mesh_with_its_transforms() -> None:
    part = load(glb_of(figurine()), "glb")
    scene = trimesh.Scene()
    scene.add_geometry(part, node_name="left", transform=np.diag([1.0, 1.0, 1.0, 1.0]))
    scene.add_geometry(part, node_name="big", transform=np.diag([3.0, 3.0, 3.0, 1.0]))
    export = cast(Callable[..., bytes], scene.export)  # trimesh leaves it untyped
    mesh, _ = read_model(export(file_type="glb"), "glb")
    assert len(mesh.faces) == 2 * len(part.faces)
    # the second part kept its node's scale: the whole reaches three times as far in x and y
    reach = mesh.vertices.max(axis=0)[:2]
    assert reach == pytest.approx(3 * part.vertices.max(axis=0)[:2])


def test_an_obj_zip_with_its_material_is_read() -> None:
    source = figurine()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("result/mesh.obj", obj_bytes(source, mtl_name="mesh.mtl"))
        zipped.writestr("result/mesh.mtl", mtl_bytes(texture_name="texture_0.png"))
        zipped.writestr("result/texture_0.png", png_bytes(GRADIENT))
    artifacts = converted(archive.getvalue(), "zip")
    assert artifacts.face_count == len(source.faces)
    with Image.open(io.BytesIO(artifacts.texture)) as texture:
        assert texture.size == (64, 64)


def test_an_untextured_mesh_gets_a_plain_texture_of_its_colour() -> None:
    box = trimesh.creation.box()
    box.visual.vertex_colors = [200, 30, 30, 255]
    data = box.export(file_type="glb")
    assert isinstance(data, bytes)
    mesh, texture = read_model(data, "glb")
    assert mesh.uv.shape == (len(mesh.vertices), 2)
    assert texture.getpixel((0, 0)) == (200, 30, 30)


def test_a_huge_texture_is_scaled_down() -> None:
    huge = Image.new("RGB", (MAX_TEXTURE_PX * 2, MAX_TEXTURE_PX), "red")
    _, texture = read_model(glb_of(figurine(), huge), "glb")
    assert texture.size == (MAX_TEXTURE_PX, MAX_TEXTURE_PX // 2)


@pytest.mark.parametrize(
    ("data", "file_type", "reason"),
    [
        (b"glTF\x02\x00\x00\x00garbage", "glb", "damaged"),
        (b"Kaydara FBX Binary  \x00", "fbx", "cannot be read"),
        (b"", "usdz", "cannot be read"),
    ],
)
def test_unreadable_files_fail_permanently(data: bytes, file_type: str, reason: str) -> None:
    with pytest.raises(PermanentError, match=reason):
        read_model(data, file_type)
