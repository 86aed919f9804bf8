"""A printable relief from a picture: a smoothed height field on a solid plate, closed all round.

The top surface is a grid whose height follows the picture (the object raised, its background
flat), the sides are walls down to a flat bottom, and every vertex has exactly one texture
coordinate: the result is watertight, consistently wound outward, and carries the picture as its
texture. Units are millimetres, Z up: the bottom lies on the print bed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from lumi_model_worker.providers.mesh_formats import TexturedMesh

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

# A pixel this far (0..1, RGB distance) from the background colour starts to rise, and is fully
# raised at twice the distance: a soft edge, so the walls of the raised object are not cliffs.
_BACKGROUND_TOLERANCE = 0.08
# the darkest part of the object still rises this much of the full height, so it is not a pit
_MIN_OBJECT_HEIGHT = 0.35


@dataclass(frozen=True, slots=True)
class ReliefSpec:
    grid: int = 128  # cells along the longer side of the picture
    size_mm: float = 100.0  # length of the longer side
    base_mm: float = 3.0  # solid plate under the relief
    relief_mm: float = 12.0  # height of a fully raised point above the plate
    smoothing_passes: int = 3  # 3×3 box blurs: no single-cell spikes survive
    texture_px: int = 1024  # longer side of the texture image


def build_relief(image: Image.Image, spec: ReliefSpec) -> TexturedMesh:
    rows, cols = grid_shape(image.size, spec.grid)
    heights = smooth(height_map(image, rows, cols), spec.smoothing_passes)
    return relief_mesh(heights, spec)


def texture_for(image: Image.Image, longest: int) -> Image.Image:
    """The picture flattened onto white (a texture has no transparency), longer side `longest`."""
    flat = Image.new("RGBA", image.size, (255, 255, 255, 255))
    flat.alpha_composite(image.convert("RGBA"))
    scale = longest / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return flat.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def grid_shape(size: tuple[int, int], grid: int) -> tuple[int, int]:
    width, height = size
    longer = max(width, height)
    return max(2, round(grid * height / longer)), max(2, round(grid * width / longer))


def height_map(image: Image.Image, rows: int, cols: int) -> Floats:
    """0 for background, up to 1 for the brightest part of the object."""
    rgba = image.convert("RGBA").resize((cols, rows), Image.Resampling.BOX)
    pixels = np.asarray(rgba, dtype=np.float64) / 255.0
    rgb, alpha = pixels[..., :3], pixels[..., 3]
    # a cut-out's transparency says exactly where the object is; otherwise guess the background
    mask = alpha if alpha.min() < 0.98 else _foreground(rgb)
    luminance: Floats = rgb @ np.array([0.2126, 0.7152, 0.0722])
    return mask * (_MIN_OBJECT_HEIGHT + (1.0 - _MIN_OBJECT_HEIGHT) * luminance)


def _foreground(rgb: Floats) -> Floats:
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    background = np.median(border, axis=0)
    distance = np.linalg.norm(rgb - background, axis=-1) / np.sqrt(3.0)
    ramp = (distance - _BACKGROUND_TOLERANCE) / _BACKGROUND_TOLERANCE
    return np.asarray(np.clip(ramp, 0.0, 1.0), dtype=np.float64)


def smooth(heights: Floats, passes: int) -> Floats:
    for _ in range(passes):
        padded = np.pad(heights, 1, mode="edge")
        heights = (padded[:-2] + padded[1:-1] + padded[2:]) / 3.0
        heights = (heights[:, :-2] + heights[:, 1:-1] + heights[:, 2:]) / 3.0
    return heights


def relief_mesh(heights: Floats, spec: ReliefSpec) -> TexturedMesh:
    rows, cols = heights.shape
    step = spec.size_mm / (max(rows, cols) - 1)
    u = np.linspace(0.0, 1.0, cols)
    v = np.linspace(1.0, 0.0, rows)  # image row 0 is the top: the largest y and v
    uu, vv = np.meshgrid(u, v)
    x = (uu - 0.5) * step * (cols - 1)
    y = (vv - 0.5) * step * (rows - 1)
    z = spec.base_mm + spec.relief_mm * heights
    top = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    top_uv = np.column_stack([uu.ravel(), vv.ravel()])
    ring = perimeter(rows, cols)
    bottom = top[ring] * np.array([1.0, 1.0, 0.0])
    centre = np.zeros((1, 3))
    vertices = np.concatenate([top, bottom, centre])
    uv = np.concatenate([top_uv, top_uv[ring], [[0.5, 0.5]]])
    faces = np.concatenate(
        [
            _top_faces(rows, cols),
            _wall_faces(ring, rows * cols),
            _bottom_faces(len(ring), rows * cols),
        ]
    )
    return TexturedMesh(vertices=vertices, faces=faces, uv=uv)


def perimeter(rows: int, cols: int) -> Ints:
    """Border vertex indices counter-clockwise seen from above (+Z), without repeats."""
    index = np.arange(rows * cols).reshape(rows, cols)
    return np.concatenate(
        [index[:-1, 0], index[-1, :-1], index[:0:-1, -1], index[0, :0:-1]]
    ).astype(np.int64)


def _top_faces(rows: int, cols: int) -> Ints:
    index = np.arange(rows * cols).reshape(rows, cols)
    a, b = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()  # upper-left, upper-right
    c, d = index[1:, :-1].ravel(), index[1:, 1:].ravel()  # lower-left, lower-right
    # counter-clockwise seen from above, so the normals point up and out
    return np.concatenate([np.column_stack([a, c, b]), np.column_stack([b, c, d])]).astype(np.int64)


def _wall_faces(ring: Ints, first_bottom: int) -> Ints:
    top, top_next = ring, np.roll(ring, -1)
    low = first_bottom + np.arange(len(ring))
    low_next = np.roll(low, -1)
    return np.concatenate(
        [np.column_stack([top, low, low_next]), np.column_stack([top, low_next, top_next])]
    ).astype(np.int64)


def _bottom_faces(ring_length: int, first_bottom: int) -> Ints:
    low = first_bottom + np.arange(ring_length)
    centre = np.full(ring_length, first_bottom + ring_length)
    # clockwise seen from above: the bottom faces down
    return np.column_stack([centre, np.roll(low, -1), low]).astype(np.int64)
