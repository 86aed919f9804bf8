"""One slice job: the model's print mesh, scaled to its real size and placed on the bed, sliced by
PrusaSlicer, its G-code (and a thumbnail, when the slicer wrote one) stored in the model's folder.
The handler returns `Done(files)`: the runtime completes the job with its columns and
`complete_slices` shows the model's slice, in one transaction.

What cannot succeed for this model (a mesh with nothing to print, a model or file that is gone,
the slicer's refusal) is a `PermanentError` with a catalogue sentence for the user
(`lumi_slice_worker.errors`); the rest is retried by the runtime (a time-out, a crash), then
dead-lettered.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import Model, SliceJob
from lumi_common.i18n import slices as texts
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.results import Done
from lumi_common.messages import SliceJobRequested
from lumi_common.pipeline.slices import SliceFiles, slice_values
from lumi_common.slice_profiles import SliceProfile
from lumi_common.storage import ObjectNotFound, Storage, content_type_for, slice_prefix
from lumi_slice_worker.errors import ModelNotSliceable, SliceProfileUnavailable, SliceSourceMissing
from lumi_slice_worker.mesh import MeshFormat, PreparedMesh, PrintSize, UnprintableMesh, prepare
from lumi_slice_worker.profiles import Profile, Profiles
from lumi_slice_worker.slicer import Sliced, SlicerConfig, slice_stl

GCODE_FILE, THUMBNAIL_FILE = "model.gcode", "thumbnail.png"
_FILE_MISSING = texts.MODEL_FILE_MISSING()

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Deps:
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    profiles: Profiles
    slicer: SlicerConfig
    default_size_mm: float  # the longest side of a model of unknown size


@dataclass(frozen=True, slots=True)
class Source:
    data: bytes
    fmt: MeshFormat
    size: PrintSize


async def handle_slice_job(
    deps: Deps, message: SliceJobRequested, claim: Claim[SliceJob]
) -> Done[SliceFiles]:
    job = claim.job
    started = time.perf_counter()
    profile = _profile(deps.profiles, job.profile)
    source = await _source(deps, job)
    prepared = await _prepare(source, profile, default_size_mm=deps.default_size_mm)
    sliced = await slice_stl(prepared.stl, profile, deps.slicer)
    files = await _store(deps.storage, job, sliced, prepared, profile)
    duration_ms = round((time.perf_counter() - started) * 1000)
    log.info(
        "slice_job.sliced",
        slicer_seconds=round(sliced.seconds, 2),
        layers=sliced.summary.layer_count,
        gcode_bytes=files.gcode_size,
        faces=prepared.faces,
    )
    return Done(files, values=slice_values(files, duration_ms=duration_ms))


def _profile(profiles: Profiles, name: str) -> Profile:
    try:
        return profiles[SliceProfile(name)]
    except ValueError:  # a profile this worker no longer ships
        raise SliceProfileUnavailable(name) from None


async def _source(deps: Deps, job: SliceJob) -> Source:
    """The model's print STL (millimetres, Z up); a model from before print STLs existed has
    only its viewer OBJ, which `prepare` turns upright and scales."""
    async with deps.sessionmaker() as session:
        model = await session.get(Model, job.model_id)
    if model is None:
        raise SliceSourceMissing("the model of this slice no longer exists", texts.MODEL_GONE())
    fmt: MeshFormat = "stl" if model.stl_key else "obj"
    key = model.stl_key or model.model_key
    if key is None:
        raise SliceSourceMissing("the model has no mesh file to slice", _FILE_MISSING)
    try:
        data = await deps.storage.get(key)
    except ObjectNotFound:
        raise SliceSourceMissing(
            f"the model's mesh file {key} is missing from storage", _FILE_MISSING
        ) from None
    size = PrintSize(model.size_x_mm, model.size_y_mm, model.size_z_mm)
    return Source(data=data, fmt=fmt, size=size)


async def _prepare(source: Source, profile: Profile, *, default_size_mm: float) -> PreparedMesh:
    try:
        return await asyncio.to_thread(
            prepare,
            source.data,
            source.fmt,
            size=source.size,
            bed=profile.bed,
            default_size_mm=default_size_mm,
        )
    except UnprintableMesh as error:
        raise ModelNotSliceable(error.reason) from None


async def _store(
    storage: Storage, job: SliceJob, sliced: Sliced, prepared: PreparedMesh, profile: Profile
) -> SliceFiles:
    prefix = slice_prefix(job.model_id, job.id)
    gcode = await storage.put(prefix + GCODE_FILE, sliced.gcode, content_type_for(GCODE_FILE))
    thumbnail_key = None
    if (png := sliced.summary.thumbnail_png) is not None:
        key = prefix + THUMBNAIL_FILE
        thumbnail_key = (await storage.put(key, png, content_type_for(key))).key
    metadata = {
        **sliced.summary.metadata(),
        "profile": profile.name.value,
        "size_mm": list(prepared.size_mm),
        "scale": round(prepared.scale, 6),
        "fitted_to_bed": prepared.fitted_to_bed,
    }
    return SliceFiles(
        gcode_key=gcode.key, gcode_size=gcode.size, thumbnail_key=thumbnail_key, metadata=metadata
    )
