"""PrusaSlicer for the tests, and stand-in slicer programs that misbehave on purpose.

The real slicer is required in CI (`.ci/run` installs the Debian package); elsewhere a test that
needs it is skipped with the reason shown. A stand-in is a small Python program written into the
test's directory as an executable named `prusa-slicer`, so a worker finds it first on `PATH`.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import trimesh

from tests.support import backends as b

SLICER = "prusa-slicer"


def real_slicer() -> str:
    """The installed PrusaSlicer: a failure in CI when missing, a visible skip elsewhere."""
    path = shutil.which(SLICER)
    if path is not None:
        return path
    if b.required():
        pytest.fail(f"CI=true but {SLICER} is not installed (.ci/run installs it)")
    pytest.skip(f"{SLICER} is not installed (apt-get install prusa-slicer)")


def fake_slicer(folder: Path, body: str) -> Path:
    """An executable `folder/prusa-slicer` running `body` (Python; `sys.argv` has the command)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SLICER
    source = f"#!{sys.executable}\nimport os, sys, time, subprocess\n" + textwrap.dedent(body)
    path.write_text(source)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# writes its pid, starts a child that writes its pid, then both sleep: a slicer that hangs
HANGING = """
    out = os.path.dirname(os.path.abspath(__file__))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(os.path.join(out, "pids"), "w") as pids:
        pids.write(f"{os.getpid()} {child.pid}")
    time.sleep(600)
"""


def hanging_pids(folder: Path) -> list[int]:
    return [int(pid) for pid in (folder / "pids").read_text().split()]


def alive(pid: int) -> bool:
    """Running (a zombie or a reaped pid is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def with_path(folder: Path) -> dict[str, str]:
    """The environment with `folder` first on PATH."""
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}


def box_stl(size: tuple[float, float, float] = (20.0, 20.0, 10.0)) -> bytes:
    data = trimesh.creation.box(extents=size).export(file_type="stl")
    assert isinstance(data, bytes)
    return data


def flat_stl() -> bytes:
    """A degenerate mesh: two triangles back to back in one plane, nothing to print."""
    vertices = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [10, 10, 0]], dtype=np.float64)
    faces = np.array([[0, 1, 2], [1, 3, 2], [0, 2, 1], [1, 2, 3]])
    data = trimesh.Trimesh(vertices, faces, process=False).export(file_type="stl")
    assert isinstance(data, bytes)
    return data
