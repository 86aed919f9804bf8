"""Time the offline providers: one 1024×1024 picture, and one relief model built from it; and
the conversion every hosted provider's model goes through (read the GLB, decimate past the face
limit, write the viewer files and the STL).

Runs the CPU work directly (the providers run the same functions in a thread) and prints the
median and best wall time and the CPU time per call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import trimesh
from PIL import Image

from lumi_image_worker.providers.procedural import render_png
from lumi_model_worker.providers.mesh_formats import TexturedMesh, glb_bytes
from lumi_model_worker.providers.meshes import build_artifacts
from lumi_model_worker.providers.model_files import convert
from lumi_model_worker.providers.model_reader import read_model
from lumi_model_worker.providers.relief import ReliefSpec

PROVIDER_FACES = 327_680  # an icosphere of 8 subdivisions: a dense provider mesh
FACE_LIMIT = 200_000  # MODEL_MAX_FACES' default


def measure(label: str, work: Callable[[int], object], runs: int) -> None:
    walls, cpus = [], []
    for run in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        work(run)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(
        f"{label}: median {statistics.median(walls) * 1000:.0f} ms, "
        f"best {min(walls) * 1000:.0f} ms, cpu {statistics.median(cpus) * 1000:.0f} ms "
        f"({runs} runs)"
    )


def main() -> None:
    picture = render_png("一只戴帽子的小猫", 0)  # also warms up numpy and zlib
    measure("offline image (1024×1024 PNG)", lambda run: render_png(f"prompt {run}", run), 20)
    spec = ReliefSpec()
    artifacts = build_artifacts(picture, spec)
    measure(
        f"relief model (grid {spec.grid}, {artifacts.vertex_count} vertices, "
        f"{artifacts.face_count} faces; OBJ {len(artifacts.obj) // 1024} KiB, "
        f"GLB {len(artifacts.glb) // 1024} KiB)",
        lambda _: build_artifacts(picture, spec),
        10,
    )
    glb = provider_glb()
    measure(
        f"provider model conversion ({PROVIDER_FACES} faces, {len(glb) // 1024} KiB GLB with a "
        f"2048² texture → decimated to {FACE_LIMIT}, OBJ/MTL/PNG/GLB/STL)",
        lambda _: convert(
            *read_model(glb, "glb"), up="y", print_size_mm=100.0, max_faces=FACE_LIMIT
        ),
        3,
    )


def provider_glb() -> bytes:
    sphere = trimesh.creation.icosphere(subdivisions=8)
    vertices = np.asarray(sphere.vertices) * [0.4, 1.0, 0.3]
    uv = np.column_stack(
        [np.arctan2(vertices[:, 0], vertices[:, 2]) / (2 * np.pi) + 0.5, (vertices[:, 1] + 1) / 2]
    )
    mesh = TexturedMesh(vertices=vertices, faces=np.asarray(sphere.faces), uv=uv)
    texture = Image.radial_gradient("L").convert("RGB").resize((2048, 2048))
    return glb_bytes(mesh, texture)


if __name__ == "__main__":
    main()
