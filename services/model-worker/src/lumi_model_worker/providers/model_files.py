"""Every model, whoever made it, is stored as the same files: what the viewers load and what a
printer slices are different copies of one mesh.

- Viewer files (OBJ + MTL + PNG texture, and GLB) follow glTF's conventions: Y up, centred on
  the origin, the largest dimension `VIEWER_SIZE` units. The web viewer has a fixed camera at
  (1, 1, 1), no auto-fit and a maximum zoom-out of 10: a model of ±50 units shows as a sliver.
- The print file (binary STL) is Z up, in real millimetres, standing on the bed (lowest point at
  z = 0) and centred over the origin; its size goes on the model row for the slicer.

Meshes over `max_faces` are decimated first (quadric, texture coordinates carried along).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import fast_simplification
import numpy as np
import numpy.typing as npt
import trimesh
from PIL import Image

from lumi_model_worker.providers.mesh_formats import (
    TexturedMesh,
    glb_bytes,
    mtl_bytes,
    obj_bytes,
    png_bytes,
)

# The file names of a model under `models/<model>/`; the MTL names the texture relatively.
OBJ_FILE = "model.obj"
MTL_FILE = "material.mtl"
TEXTURE_FILE = "material.png"
GLB_FILE = "model.glb"
STL_FILE = "model.stl"

VIEWER_SIZE = 1.0
UpAxis = Literal["y", "z"]
Matrix = npt.NDArray[np.float64]

# quarter turns about X: (x, y, z) → (x, z, -y) stands a Z-up mesh up in a Y-up world,
# (x, y, z) → (x, -z, y) does the reverse (glTF's front, +Z, then faces -Y)
_Z_UP_TO_Y_UP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=float)
_Y_UP_TO_Z_UP = _Z_UP_TO_Y_UP.T.copy()


@dataclass(frozen=True, slots=True)
class MeshArtifacts:
    obj: bytes
    mtl: bytes
    texture: bytes  # PNG
    glb: bytes
    stl: bytes  # millimetres, Z up
    vertex_count: int
    face_count: int
    size_mm: tuple[float, float, float]  # the STL's extent along x, y, z

    def files(self) -> dict[str, bytes]:
        """Each file under the name it is stored with (the MTL refers to the texture by it)."""
        return {
            OBJ_FILE: self.obj,
            MTL_FILE: self.mtl,
            TEXTURE_FILE: self.texture,
            GLB_FILE: self.glb,
            STL_FILE: self.stl,
        }


def convert(
    mesh: TexturedMesh,
    texture: Image.Image,
    *,
    up: UpAxis,
    print_size_mm: float,
    max_faces: int,
) -> MeshArtifacts:
    """The viewer and print files of `mesh` (whose up axis is `up`, in any unit)."""
    if len(mesh.faces) == 0:
        raise ValueError("the mesh has no faces")
    mesh = decimate(mesh, max_faces) if len(mesh.faces) > max_faces else mesh
    viewer = _transformed(mesh, viewer_transform(mesh.vertices, up=up))
    printed = _transformed(mesh, print_transform(mesh.vertices, up=up, size_mm=print_size_mm))
    low, high = printed.vertices.min(axis=0), printed.vertices.max(axis=0)
    extent = high - low
    return MeshArtifacts(
        obj=obj_bytes(viewer, mtl_name=MTL_FILE),
        mtl=mtl_bytes(texture_name=TEXTURE_FILE),
        texture=png_bytes(texture),
        glb=glb_bytes(viewer, texture),
        stl=stl_bytes(printed),
        vertex_count=len(viewer.vertices),
        face_count=len(viewer.faces),
        size_mm=(float(extent[0]), float(extent[1]), float(extent[2])),
    )


def viewer_transform(vertices: npt.NDArray[np.float64], *, up: UpAxis) -> Matrix:
    """Y up, the bounding box centred on the origin, the largest dimension `VIEWER_SIZE`."""
    rotation = _Z_UP_TO_Y_UP if up == "z" else np.eye(4)
    low, high = _bounds(vertices, rotation)
    scale = VIEWER_SIZE / max(float((high - low).max()), 1e-12)
    return _scaled(scale) @ _moved(-(low + high) / 2) @ rotation


def print_transform(vertices: npt.NDArray[np.float64], *, up: UpAxis, size_mm: float) -> Matrix:
    """Z up, the largest dimension `size_mm`, centred over the origin, lowest point at z = 0."""
    rotation = _Y_UP_TO_Z_UP if up == "y" else np.eye(4)
    low, high = _bounds(vertices, rotation)
    scale = size_mm / max(float((high - low).max()), 1e-12)
    centre = (low + high) / 2
    return _scaled(scale) @ _moved(np.array([-centre[0], -centre[1], -low[2]])) @ rotation


def decimate(mesh: TexturedMesh, max_faces: int) -> TexturedMesh:
    """At most about `max_faces` faces; each kept vertex keeps the texture coordinate of one of
    the vertices merged into it."""
    points, _, collapses = fast_simplification.simplify(
        mesh.vertices, mesh.faces, target_count=max_faces, return_collapses=True
    )
    points, faces, mapping = fast_simplification.replay_simplification(
        mesh.vertices, mesh.faces, collapses
    )
    uv = np.zeros((len(points), 2))
    uv[mapping] = mesh.uv
    return TexturedMesh(
        vertices=np.asarray(points, dtype=np.float64),
        faces=np.asarray(faces, dtype=np.int64),
        uv=uv,
    )


def stl_bytes(mesh: TexturedMesh) -> bytes:
    solid = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    data = solid.export(file_type="stl")
    if not isinstance(data, bytes):
        raise TypeError(f"trimesh exported {type(data).__name__} for STL, expected bytes")
    return data


def _transformed(mesh: TexturedMesh, matrix: Matrix) -> TexturedMesh:
    vertices = _apply(matrix, mesh.vertices)
    return TexturedMesh(vertices=vertices, faces=mesh.faces, uv=mesh.uv)


def _bounds(
    vertices: npt.NDArray[np.float64], rotation: Matrix
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    turned = _apply(rotation, vertices)
    return turned.min(axis=0), turned.max(axis=0)


def _apply(matrix: Matrix, points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(points @ matrix[:3, :3].T + matrix[:3, 3], dtype=np.float64)


def _moved(offset: npt.NDArray[np.float64]) -> Matrix:
    matrix = np.eye(4)
    matrix[:3, 3] = offset
    return matrix


def _scaled(factor: float) -> Matrix:
    return np.diag([factor, factor, factor, 1.0])
