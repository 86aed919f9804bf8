"""Time the offline providers: one 1024×1024 picture, and one relief model built from it.

Runs the CPU work directly (the providers run the same functions in a thread) and prints the
median and best wall time and the CPU time per call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from lumi_image_worker.providers.procedural import render_png
from lumi_model_worker.providers.meshes import build_artifacts
from lumi_model_worker.providers.relief import ReliefSpec


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


if __name__ == "__main__":
    main()
