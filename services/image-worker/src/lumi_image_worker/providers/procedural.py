"""Procedural object pictures: a shaded solid silhouette on a dark disc, on a plain background.

Every random choice comes from one `random.Random` seeded with sha256(seed, prompt), never from
`hash()` (salted per process), so a picture is the same on every run and every worker. The
picture is computed at half size and upscaled: its shapes are smooth, so nothing visible is lost
and the cost is a quarter.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import random
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

IMAGE_SIZE = 1024
_WORK_SIZE = IMAGE_SIZE // 2
# zlib level 1: much faster than the default level 6, for a somewhat larger file
# (docs/performance.md, "Model files")
_PNG_COMPRESS_LEVEL = 1
# slope of the silhouette's edge ramp: about one working pixel, anti-aliased but crisp
_EDGE_SHARPNESS = 50.0
# no lump reaches nearer than this to the picture's edges
_MARGIN = 0.06
_MIN_RADIUS = 0.035

Array = npt.NDArray[np.float64]
RGB = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Blob:
    """An axis-aligned Gaussian lump; the object is where the lumps together pass 0.5."""

    x: float
    y: float
    rx: float
    ry: float
    colour: RGB


@dataclass(frozen=True, slots=True)
class Scene:
    """A picture in unit coordinates (0..1, y down)."""

    background: RGB
    base_colour: RGB
    base_x: float
    base_y: float
    base_rx: float
    base_depth: float
    light: tuple[float, float, float]
    blobs: tuple[Blob, ...]


def render_png(prompt: str, seed: int) -> bytes:
    image = Image.fromarray(render(scene_for(prompt, seed)), "RGB")
    image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
    return out.getvalue()


def scene_for(prompt: str, seed: int) -> Scene:
    digest = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    hue = rng.random()
    base_x, base_y, base_rx = (
        rng.uniform(0.45, 0.55),
        rng.uniform(0.78, 0.86),
        rng.uniform(0.22, 0.36),
    )
    return Scene(
        background=_hsv(
            hue + rng.uniform(0.3, 0.7), rng.uniform(0.06, 0.16), rng.uniform(0.9, 0.98)
        ),
        base_colour=_hsv(hue + 0.5, rng.uniform(0.1, 0.3), rng.uniform(0.25, 0.4)),
        base_x=base_x,
        base_y=base_y,
        base_rx=base_rx,
        base_depth=rng.uniform(0.03, 0.06),
        light=_light(rng),
        blobs=_blobs(rng, _palette(rng, hue), x=base_x, y=base_y, width=base_rx),
    )


def _palette(rng: random.Random, hue: float) -> tuple[RGB, ...]:
    # a main colour twice (it should dominate) and an analogous, triadic or opposite accent
    accent = rng.choice((0.08, 0.33, 0.5))
    return tuple(
        _hsv(hue + shift + rng.uniform(-0.1, 0.1), rng.uniform(0.4, 0.75), rng.uniform(0.65, 0.95))
        for shift in (0.0, 0.0, accent)
    )


def _blobs(
    rng: random.Random, palette: tuple[RGB, ...], *, x: float, y: float, width: float
) -> tuple[Blob, ...]:
    body_ry = rng.uniform(0.14, 0.22)
    # the body's 0.5 contour lies 0.83 radii from its centre: this rests it on the disc
    parts = [Blob(x, y - 0.75 * body_ry, width * rng.uniform(0.55, 0.8), body_ry, palette[0])]
    for _ in range(rng.randint(3, 8)):
        part = _attach(rng, rng.choice(parts), rng.choice(palette))
        if _fits(part):
            parts.append(part)
    return tuple(parts)


def _attach(rng: random.Random, parent: Blob, colour: RGB) -> Blob:
    """A smaller lump reaching out of the parent: a head, a limb, an ear.

    For these ranges the two lumps sum to at least 0.7 all along the line between their centres
    (above the 0.5 silhouette level), so the object stays one connected solid: nothing floats.
    """
    angle = rng.uniform(math.pi, 2.0 * math.pi)  # y grows downward: this half points up
    reach = rng.uniform(0.9, 1.3)  # in parent radii
    return Blob(
        x=parent.x + math.cos(angle) * reach * parent.rx,
        y=parent.y + math.sin(angle) * reach * parent.ry,
        rx=parent.rx * rng.uniform(0.45, 0.85),
        ry=parent.ry * rng.uniform(0.45, 0.85),
        colour=colour,
    )


def _fits(part: Blob) -> bool:
    # tiny lumps would read as thin spikes, which nothing printable should have
    large_enough = min(part.rx, part.ry) >= _MIN_RADIUS
    inside = part.y - part.ry >= _MARGIN and part.x - part.rx >= _MARGIN
    return large_enough and inside and part.x + part.rx <= 1.0 - _MARGIN


def _light(rng: random.Random) -> tuple[float, float, float]:
    x, y, z = rng.uniform(-0.7, 0.7), rng.uniform(-0.8, -0.3), 1.0
    norm = (x * x + y * y + z * z) ** 0.5
    return (x / norm, y / norm, z / norm)


def _hsv(hue: float, saturation: float, value: float) -> RGB:
    return colorsys.hsv_to_rgb(hue % 1.0, saturation, value)


def render(scene: Scene) -> npt.NDArray[np.uint8]:
    axis = (np.arange(_WORK_SIZE, dtype=np.float64) + 0.5) / _WORK_SIZE
    field = np.zeros((_WORK_SIZE, _WORK_SIZE), np.float64)
    colour = np.zeros((_WORK_SIZE, _WORK_SIZE, 3), np.float64)
    for blob in scene.blobs:
        # a Gaussian is separable: one outer product instead of a 2-D exp per blob
        weight = np.outer(_gauss(axis, blob.y, blob.ry), _gauss(axis, blob.x, blob.rx))
        field += weight
        colour += weight[..., None] * np.asarray(blob.colour, np.float64)
    colour /= np.maximum(field, 1e-6)[..., None]
    alpha = np.clip((field - 0.5) * _EDGE_SHARPNESS, 0.0, 1.0)[..., None]
    lit = colour * _shade(field, scene.light)[..., None]
    picture = _backdrop(scene, axis) * (1.0 - alpha) + lit * alpha
    return (np.clip(picture, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _gauss(axis: Array, centre: float, radius: float) -> Array:
    return np.exp(-(((axis - centre) / radius) ** 2))


def _shade(field: Array, light: tuple[float, float, float]) -> Array:
    # Treat the field as a height (its square root bulges like a rounded solid) and light it
    # with Lambert's law; the steep rim turns away from the light and darkens, reading as 3D.
    height = np.sqrt(np.maximum(field - 0.5, 0.0)) * 40.0
    dy: Array = np.gradient(height, axis=0)
    dx: Array = np.gradient(height, axis=1)
    lambert = (light[2] - dx * light[0] - dy * light[1]) / np.sqrt(dx * dx + dy * dy + 1.0)
    return 0.35 + 0.65 * np.clip(lambert, 0.0, 1.0)


def _backdrop(scene: Scene, axis: Array) -> Array:
    """The background with a soft vertical gradient, and the disc the object stands on."""
    shape = (_WORK_SIZE, _WORK_SIZE, 3)
    gradient = (1.0 - 0.08 * axis)[:, None, None]
    picture = np.broadcast_to(np.asarray(scene.background, np.float64) * gradient, shape)
    rows, across = axis[:, None], ((axis - scene.base_x) / scene.base_rx)[None, :] ** 2
    ry, top, bottom = scene.base_rx * 0.25, scene.base_y, scene.base_y + scene.base_depth
    side = np.maximum(
        _ellipse_cover(across, (rows - bottom) / ry),
        ((across <= 1.0) & (rows >= top) & (rows <= bottom)).astype(np.float64),
    )[..., None]
    face = _ellipse_cover(across, (rows - top) / ry)[..., None]
    base = np.asarray(scene.base_colour, np.float64)
    picture = picture * (1.0 - side) + base * 0.8 * side
    return picture * (1.0 - face) + base * 1.25 * face


def _ellipse_cover(across: Array, down: Array) -> Array:
    return np.clip((1.0 - across - down**2) * 40.0, 0.0, 1.0).astype(np.float64)
