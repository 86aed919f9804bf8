"""Time one slice of the offline relief model, as the slice worker runs it: the model worker's
relief of a 1024×1024 picture (its print STL and size), prepared for the bed (mesh.py), then
PrusaSlicer's command line under the worker's limits (slicer.py), for every shipped profile.

Prints the wall time of each step, the slicer's CPU time (its process and children), and what
the G-code says (layers, estimated print time, size). The issue's budget: ≤ 60 s per slice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import time

from lumi_common.slice_profiles import SliceProfile
from lumi_image_worker.providers.procedural import render_png
from lumi_model_worker.providers.meshes import build_artifacts
from lumi_model_worker.providers.relief import ReliefSpec
from lumi_slice_worker.mesh import PreparedMesh, PrintSize, prepare
from lumi_slice_worker.process import Limits
from lumi_slice_worker.profiles import Profile, Profiles, shipped_folder
from lumi_slice_worker.slicer import Sliced, SlicerConfig, slice_stl

BUDGET_SECONDS = 60.0
LIMITS = Limits(timeout_seconds=540, memory_bytes=2048 << 20)  # the worker's defaults, max time


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def one_slice(stl: bytes, profile: Profile, config: SlicerConfig) -> tuple[Sliced, float]:
    cpu = children_cpu()
    sliced = await slice_stl(stl, profile, config)
    return sliced, children_cpu() - cpu


def prepared_relief() -> tuple[PreparedMesh, int, float]:
    picture = render_png("一只戴帽子的小猫", 0)
    artifacts = build_artifacts(picture, ReliefSpec())
    started = time.perf_counter()
    prepared = prepare(
        artifacts.stl,
        "stl",
        size=PrintSize(*artifacts.size_mm),
        bed=Profiles(shipped_folder()).bed,
        default_size_mm=100,
    )
    return prepared, len(artifacts.stl), time.perf_counter() - started


async def main(runs: int, profiles: list[SliceProfile]) -> None:
    binary = shutil.which("prusa-slicer")
    if binary is None:  # `make bench` runs every bench: say so and go on
        print("bench.slice skipped: prusa-slicer is not installed (apt-get install prusa-slicer)")
        return
    print(f"machine: {os.cpu_count()} cores; {binary}")
    prepared, stl_bytes, prepare_s = prepared_relief()
    size = " × ".join(f"{v:g}" for v in prepared.size_mm)
    print(
        f"relief model: {prepared.faces} faces, STL {stl_bytes // 1024} KiB, {size} mm; "
        f"prepared for the bed in {prepare_s * 1000:.0f} ms"
    )
    config = SlicerConfig(binary=binary, limits=LIMITS, work_dir=None)
    shipped = Profiles(shipped_folder())
    worst = 0.0
    for name in profiles:
        walls, cpus = [], []
        for _ in range(runs):
            sliced, cpu = await one_slice(prepared.stl, shipped[name], config)
            walls.append(sliced.seconds)
            cpus.append(cpu)
        summary = sliced.summary
        worst = max(worst, max(walls))
        print(
            f"{name.value}: median {statistics.median(walls):.1f} s, best {min(walls):.1f} s, "
            f"slicer cpu {statistics.median(cpus):.1f} s ({runs} runs); "
            f"{summary.layer_count} layers, print {summary.print_time}, "
            f"G-code {len(sliced.gcode) // 1024} KiB"
        )
    verdict = "within" if worst <= BUDGET_SECONDS else "OVER"
    print(f"slowest slice {worst:.1f} s: {verdict} the {BUDGET_SECONDS:.0f} s budget")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--profile", action="append", choices=[p.value for p in SliceProfile], default=None
    )
    args = parser.parse_args()
    chosen = [SliceProfile(p) for p in args.profile] if args.profile else list(SliceProfile)
    asyncio.run(main(args.runs, chosen))
