"""The slicer's process runner: time limit, process group, memory limit, bounded output — on
real child processes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from lumi_slice_worker.process import OUTPUT_TAIL_BYTES, Limits, TimedOut, run_limited
from tests.support.slicer import HANGING, alive, fake_slicer, hanging_pids

GENEROUS = Limits(timeout_seconds=30, memory_bytes=None)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def wait_for_file(path: Path) -> None:
    def written() -> bool:
        return path.exists() and bool(path.read_text())

    async with asyncio.timeout(10):
        while not await asyncio.to_thread(written):  # noqa: ASYNC110 - polling a file
            await asyncio.sleep(0.02)


async def test_a_finished_program_gives_its_exit_code_and_output(tmp_path: Path) -> None:
    code = "import sys; print('working'); print('broken', file=sys.stderr); sys.exit(3)"
    finished = await run_limited(python(code), cwd=tmp_path, limits=GENEROUS)
    assert finished.returncode == 3
    assert "working" in finished.output
    assert finished.last_line == "broken"


async def test_no_shell_is_involved(tmp_path: Path) -> None:
    code = "import sys; print(sys.argv[1])"
    finished = await run_limited(
        [*python(code), "$(touch pwned); `touch pwned`"], cwd=tmp_path, limits=GENEROUS
    )
    assert finished.last_line == "$(touch pwned); `touch pwned`"
    assert not (tmp_path / "pwned").exists()


async def test_a_hanging_program_and_its_children_are_killed_at_the_time_limit(
    tmp_path: Path,
) -> None:
    program = fake_slicer(tmp_path, HANGING)
    limits = Limits(timeout_seconds=1.5, memory_bytes=None)
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimedOut):
        await run_limited([str(program)], cwd=tmp_path, limits=limits)
    elapsed = asyncio.get_running_loop().time() - started
    pids = hanging_pids(tmp_path)
    assert len(pids) == 2
    assert not any(alive(pid) for pid in pids), "the slicer or its child outlived the time-out"
    assert elapsed < 1.5 + 5  # the time limit, the TERM grace and some slack on a busy machine


async def test_a_cancelled_run_leaves_no_process_behind(tmp_path: Path) -> None:
    program = fake_slicer(tmp_path, HANGING)
    run = asyncio.create_task(run_limited([str(program)], cwd=tmp_path, limits=GENEROUS))
    await wait_for_file(tmp_path / "pids")
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert not any(alive(pid) for pid in hanging_pids(tmp_path))


async def test_a_child_left_behind_by_a_finished_program_is_killed(tmp_path: Path) -> None:
    code = (
        "import subprocess, sys; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], "
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(child.pid)"
    )
    finished = await run_limited(python(code), cwd=tmp_path, limits=GENEROUS)
    assert finished.returncode == 0
    assert not alive(int(finished.last_line))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is set on Linux")
async def test_the_memory_limit_applies_to_the_program(tmp_path: Path) -> None:
    # allocates and touches 600 MB, after its start-up (when the limit is already set)
    code = "import time; time.sleep(0.3); block = bytearray(600 * 1024 * 1024); print('ok')"
    unlimited = await run_limited(python(code), cwd=tmp_path, limits=GENEROUS)
    assert unlimited.returncode == 0, unlimited.output
    limited = await run_limited(
        python(code), cwd=tmp_path, limits=Limits(timeout_seconds=30, memory_bytes=300 << 20)
    )
    assert limited.returncode != 0
    assert "MemoryError" in limited.output


async def test_only_the_end_of_a_flood_of_output_is_kept(tmp_path: Path) -> None:
    code = "import sys; [sys.stdout.write('x' * 1023 + '\\n') for _ in range(10_000)]; print('end')"
    finished = await run_limited(python(code), cwd=tmp_path, limits=GENEROUS)
    assert finished.returncode == 0
    assert len(finished.output) <= OUTPUT_TAIL_BYTES
    assert finished.last_line == "end"
