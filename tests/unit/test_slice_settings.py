"""The slice worker's settings, as the environment gives them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lumi_slice_worker.settings import SliceWorkerSettings


def test_defaults_slice_one_model_at_a_time_under_limits() -> None:
    settings = SliceWorkerSettings()
    assert settings.slice_queue_concurrency == 1
    assert settings.slicer_binary == "prusa-slicer"
    assert settings.slice_memory_limit_bytes == 2048 * 1024 * 1024
    assert settings.slice_work_dir is None


def test_an_empty_work_dir_is_the_systems_and_no_memory_limit_is_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLICE_WORK_DIR", "")
    monkeypatch.setenv("SLICE_MEMORY_LIMIT_MB", "0")
    settings = SliceWorkerSettings()
    assert (settings.slice_work_dir, settings.slice_memory_limit_bytes) == (None, None)
    monkeypatch.setenv("SLICE_WORK_DIR", str(tmp_path))
    assert SliceWorkerSettings().slice_work_dir == tmp_path


@pytest.mark.parametrize(
    ("name", "value"),
    [("SLICE_TIMEOUT_SECONDS", "0"), ("SLICE_TIMEOUT_SECONDS", "3600"), ("SLICER_BINARY", "")],
)
def test_unsafe_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        SliceWorkerSettings()
