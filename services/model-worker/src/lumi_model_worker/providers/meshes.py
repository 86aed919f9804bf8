"""3D model generation, shaped like the hosted providers that take minutes: submit, poll, fetch.

A model job submits once, then polls on later deliveries (it never holds a worker slot while a
provider works), then fetches the files. `OfflineReliefGenerator` follows the same steps locally.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

from PIL import Image

from lumi_common.errors import PermanentError
from lumi_common.storage.protocol import ObjectNotFound, Storage
from lumi_model_worker.providers.model_files import MeshArtifacts, convert
from lumi_model_worker.providers.relief import ReliefSpec, build_relief, texture_for

# larger pictures are refused before they are decoded (a decompression bomb costs memory)
MAX_SOURCE_PIXELS = 40_000_000
# submitted pictures wait here (not under /files: only the worker reads them)
WORK_PREFIX = "work/relief/"
# a day's pictures are removed this many days later: every job has fetched or failed long before
WORK_RETENTION_DAYS = 2
# a process that was down for a while still removes the folders of this many days before
PRUNE_LOOKBACK_DAYS = 14

PollState = Literal["running", "done", "failed"]
_JOB_ID = re.compile(r"^20[0-9]{6}[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class PollResult:
    state: PollState
    progress: int  # 0–100
    error: str | None = None


class MeshGenerator(Protocol):
    async def submit(self, image: bytes, *, job_key: str, image_url: str | None = None) -> str:
        """Start a generation and return the provider's job id. The same `job_key` and image
        may be submitted again after a crash. `image_url`, when given, is a signed URL of the
        same picture that a hosted provider fetches instead of receiving the bytes."""
        ...

    async def poll(self, provider_job_id: str) -> PollResult: ...

    async def fetch(self, provider_job_id: str) -> MeshArtifacts: ...


class OfflineReliefGenerator:
    """A relief of the picture, built locally.

    Stateless between calls: the job id is the submission day plus a digest of the job key and
    the picture, and the picture waits in the storage every replica shares (a local folder or
    the bucket), so a restarted worker, or another replica, polls and fetches what an earlier
    process submitted. Each day's pictures share a folder that is deleted whole after
    `WORK_RETENTION_DAYS`, which works on any storage (no listing by age).
    """

    def __init__(self, storage: Storage, *, spec: ReliefSpec | None = None) -> None:
        self._storage = storage
        self._spec = spec or ReliefSpec()
        self._pruned_on: date | None = None

    async def submit(self, image: bytes, *, job_key: str, image_url: str | None = None) -> str:
        await asyncio.to_thread(_check_image, image)
        today = datetime.now(UTC).date()
        digest = hashlib.sha256(job_key.encode() + b"\x00" + image).hexdigest()[:32]
        job_id = f"{today:%Y%m%d}{digest}"
        await self._prune(today)
        await self._storage.put(_work_key(job_id), image, "application/octet-stream")
        return job_id

    async def poll(self, provider_job_id: str) -> PollResult:
        if _JOB_ID.match(provider_job_id) and await self._storage.exists(
            _work_key(provider_job_id)
        ):
            return PollResult(state="done", progress=100)
        return PollResult(
            state="failed", progress=0, error="unknown job (never submitted or expired)"
        )

    async def fetch(self, provider_job_id: str) -> MeshArtifacts:
        # the id arrives from a message: only our own ids may become a key
        if not _JOB_ID.match(provider_job_id):
            raise PermanentError(f"unknown offline relief job {provider_job_id!r}")
        try:
            image = await self._storage.get(_work_key(provider_job_id))
        except ObjectNotFound:
            raise PermanentError(f"unknown offline relief job {provider_job_id!r}") from None
        return await asyncio.to_thread(build_artifacts, image, self._spec)

    async def _prune(self, today: date) -> None:
        """Once a day per process: delete the folders of the days past retention."""
        if self._pruned_on == today:
            return
        for age in range(WORK_RETENTION_DAYS + 1, WORK_RETENTION_DAYS + PRUNE_LOOKBACK_DAYS):
            await self._storage.delete_prefix(_day_prefix(today - timedelta(days=age)))
        self._pruned_on = today


def _work_key(job_id: str) -> str:
    day = datetime.strptime(job_id[:8], "%Y%m%d").replace(tzinfo=UTC).date()
    return f"{_day_prefix(day)}{job_id[8:]}.image"


def _day_prefix(day: date) -> str:
    return f"{WORK_PREFIX}{day:%Y%m%d}/"


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
