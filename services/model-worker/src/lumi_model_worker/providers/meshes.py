"""3D model generation, shaped like the hosted providers that take minutes: submit, poll, fetch.

A model job submits once, then polls on later deliveries (it never holds a worker slot while a
provider works), then fetches the files. `OfflineReliefGenerator` follows the same steps locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from PIL import Image

from lumi_common.errors import PermanentError
from lumi_common.storage.local import write_atomically
from lumi_model_worker.providers.model_files import MeshArtifacts, convert
from lumi_model_worker.providers.relief import ReliefSpec, build_relief, texture_for

# larger pictures are refused before they are decoded (a decompression bomb costs memory)
MAX_SOURCE_PIXELS = 40_000_000
# submitted pictures older than this are removed: every job has fetched or failed long before
WORK_RETENTION_SECONDS = 24 * 3600.0

PollState = Literal["running", "done", "failed"]
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class PollResult:
    state: PollState
    progress: int  # 0–100
    error: str | None = None


class MeshGenerator(Protocol):
    async def submit(self, image: bytes, *, job_key: str) -> str:
        """Start a generation and return the provider's job id. The same `job_key` and image
        may be submitted again after a crash."""
        ...

    async def poll(self, provider_job_id: str) -> PollResult: ...

    async def fetch(self, provider_job_id: str) -> MeshArtifacts: ...


class OfflineReliefGenerator:
    """A relief of the picture, built locally.

    Stateless between calls: the job id is a digest of the job key and the picture, and the
    picture waits in `work_dir`, so a restarted worker (or another replica sharing the
    directory) polls and fetches what an earlier process submitted.
    """

    def __init__(self, work_dir: Path, *, spec: ReliefSpec | None = None) -> None:
        self._work_dir = work_dir
        self._spec = spec or ReliefSpec()

    async def submit(self, image: bytes, *, job_key: str) -> str:
        await asyncio.to_thread(_check_image, image)
        job_id = hashlib.sha256(job_key.encode() + b"\x00" + image).hexdigest()[:32]
        await asyncio.to_thread(self._store, job_id, image)
        return job_id

    async def poll(self, provider_job_id: str) -> PollResult:
        if await asyncio.to_thread(self._exists, provider_job_id):
            return PollResult(state="done", progress=100)
        return PollResult(
            state="failed", progress=0, error="unknown job (never submitted or expired)"
        )

    async def fetch(self, provider_job_id: str) -> MeshArtifacts:
        if not await asyncio.to_thread(self._exists, provider_job_id):
            raise PermanentError(f"unknown offline relief job {provider_job_id!r}")
        image = await asyncio.to_thread(self._path(provider_job_id).read_bytes)
        return await asyncio.to_thread(build_artifacts, image, self._spec)

    def _store(self, job_id: str, image: bytes) -> None:
        self._prune()
        write_atomically(self._path(job_id), image)

    def _exists(self, provider_job_id: str) -> bool:
        # the id arrives from a message: only our own digests may become a path
        return bool(_JOB_ID.match(provider_job_id)) and self._path(provider_job_id).is_file()

    def _path(self, job_id: str) -> Path:
        return self._work_dir / f"{job_id}.image"

    def _prune(self) -> None:
        expired = time.time() - WORK_RETENTION_SECONDS
        for path in self._work_dir.glob("*.image"):
            # another replica sharing the directory may prune the same file meanwhile
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < expired:
                    path.unlink()


def build_artifacts(image: bytes, spec: ReliefSpec) -> MeshArtifacts:
    picture = _decode(image)
    mesh = build_relief(picture, spec)
    texture = texture_for(picture, spec.texture_px)
    # built in millimetres, Z up: the print copy keeps its size, the viewer copy is turned Y up
    return convert(mesh, texture, up="z", print_size_mm=spec.size_mm, max_faces=len(mesh.faces))


def _check_image(data: bytes) -> None:
    # refused at submit, as a hosted provider would, rather than minutes later at fetch
    with _open(data) as picture:
        try:
            picture.verify()
        except (OSError, SyntaxError, ValueError) as error:
            raise PermanentError(f"the picture is damaged: {error}") from error


def _decode(data: bytes) -> Image.Image:
    picture = _open(data)
    try:
        picture.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise PermanentError(f"the picture cannot be decoded: {error}") from error
    return picture


def _open(data: bytes) -> Image.Image:
    """Open (read the header only) and refuse what is not a picture or is far too large."""
    try:
        picture = Image.open(io.BytesIO(data))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise PermanentError(f"not a picture: {error}") from error
    if picture.width * picture.height > MAX_SOURCE_PIXELS:
        raise PermanentError(f"picture of {picture.width}×{picture.height} pixels is too large")
    return picture
