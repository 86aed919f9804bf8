"""A textured triangle mesh, and the files it is delivered as: OBJ + MTL (+ texture), and GLB."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import trimesh
from PIL import Image

MATERIAL_NAME = "material"


@dataclass(frozen=True, slots=True)
class TexturedMesh:
    """Triangles with one texture coordinate per vertex (`uv[i]` belongs to `vertices[i]`)."""

    vertices: npt.NDArray[np.float64]
    faces: npt.NDArray[np.int64]
    uv: npt.NDArray[np.float64]


def obj_bytes(mesh: TexturedMesh, *, mtl_name: str) -> bytes:
    # One `%` over a repeated format string formats every row in C, faster than a Python loop
    # over rows (docs/performance.md, "Model files"; the same trick trimesh's exporter uses).
    vertex_lines = ("v %.4f %.4f %.4f\n" * len(mesh.vertices)) % tuple(mesh.vertices.ravel())
    uv_lines = ("vt %.6f %.6f\n" * len(mesh.uv)) % tuple(mesh.uv.ravel())
    one_based = np.repeat(mesh.faces + 1, 2, axis=1)  # v/vt pairs share their index
    face_lines = ("f %d/%d %d/%d %d/%d\n" * len(mesh.faces)) % tuple(one_based.ravel().tolist())
    header = (
        f"# Lumi model: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces\n"
        f"mtllib {mtl_name}\no model\n"
    )
    body = f"{vertex_lines}{uv_lines}usemtl {MATERIAL_NAME}\n{face_lines}"
    return (header + body).encode()


def mtl_bytes(*, texture_name: str) -> bytes:
    # a matte white material whose colour is the texture; the file name stays relative so the
    # files work side by side wherever they are stored (the API rewrites it to a URL when served)
    return (
        f"newmtl {MATERIAL_NAME}\nKa 1.000 1.000 1.000\nKd 1.000 1.000 1.000\n"
        f"Ks 0.000 0.000 0.000\nd 1.0\nillum 1\nmap_Kd {texture_name}\n"
    ).encode()


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def glb_bytes(mesh: TexturedMesh, texture: Image.Image) -> bytes:
    # trimesh ships type hints, but not on this constructor
    visual = trimesh.visual.TextureVisuals(uv=mesh.uv, image=texture)  # type: ignore[no-untyped-call]
    scene_mesh = trimesh.Trimesh(mesh.vertices, mesh.faces, visual=visual, process=False)
    data = scene_mesh.export(file_type="glb")
    if not isinstance(data, bytes):
        raise TypeError(f"trimesh exported {type(data).__name__} for GLB, expected bytes")
    return data
