"""Settings of the slice worker, composed from the shared pieces."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from lumi_common.settings import WorkerSettings

MB = 1024 * 1024


class SliceWorkerSettings(WorkerSettings):
    # one slice keeps both cores of a small machine busy: one at a time by default
    slice_queue_concurrency: int = Field(default=1, ge=1, le=64)
    # a global limit shared by every replica (0 = none)
    slice_jobs_per_minute: int = Field(default=0, ge=0)
    # the PrusaSlicer command (a name looked up on PATH, or a path)
    slicer_binary: str = Field(default="prusa-slicer", min_length=1)
    # the slicer is killed with its process group past this; below the ten minutes after which
    # a deleted model's folder is swept again, so a late G-code never outlives its model
    slice_timeout_seconds: float = Field(default=300.0, gt=0, le=540)
    # the slicer's address space (RLIMIT_AS, Linux); 0 = no limit
    slice_memory_limit_mb: int = Field(default=2048, ge=0, le=1024 * 1024)
    # where each slice gets its temporary directory (removed afterwards); empty: the system's
    slice_work_dir: Path | None = None
    # the longest side of a model whose real size is unknown (an OBJ without size columns)
    slice_default_size_mm: float = Field(default=100.0, gt=0, le=1000)

    @field_validator("slice_work_dir", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        # `SLICE_WORK_DIR=` (as in .env.example) means the system's, not the current directory
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def slice_memory_limit_bytes(self) -> int | None:
        return self.slice_memory_limit_mb * MB if self.slice_memory_limit_mb else None
