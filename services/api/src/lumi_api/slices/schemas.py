"""Slice request bodies and the shapes the web app reads (contract S1, S2, T7)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from lumi_api.files.urls import FileUrls
from lumi_api.schemas import ApiModel, Timestamp
from lumi_common import jsonx
from lumi_common.db.tables import SliceJob
from lumi_common.i18n import shown

# defines the slice failures' sentences, which `shown` renders from their stored references
from lumi_common.i18n import slices as _slice_texts  # noqa: F401
from lumi_common.slice_profiles import SliceProfile
from lumi_common.states import JobStatus, SliceStatus

# a queued job has not started; the apps know PROCESSING for anything running or retrying
SLICE_STATUS_OF_JOB = {
    JobStatus.QUEUED: SliceStatus.PENDING,
    JobStatus.RUNNING: SliceStatus.PROCESSING,
    JobStatus.RETRYING: SliceStatus.PROCESSING,
    JobStatus.COMPLETED: SliceStatus.COMPLETED,
    JobStatus.FAILED: SliceStatus.FAILED,
    JobStatus.CANCELLED: SliceStatus.FAILED,
}


class CreateSliceBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    model_id: StrictStr = Field(alias="modelId", min_length=1, max_length=64)
    # one of the profiles the slice worker ships; absent: SLICE_PROFILE
    profile: SliceProfile | None = None


class PrintBody(BaseModel):
    """The web app sends `{}`; a profile may be chosen as for `POST /slices`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    profile: SliceProfile | None = None


class SliceCreatedOut(ApiModel):
    model_id: str
    slice_task_id: str
    slice_status: SliceStatus
    message: str


class PrintOut(ApiModel):
    slice_task_id: str
    message: str


class GcodeMetadataOut(ApiModel):
    """What the G-code says about the print; a field the slicer did not write is null."""

    model_config = ConfigDict(extra="ignore")

    slicer: str | None = None
    profile: str | None = None
    print_time: str | None = Field(default=None, examples=["2h 4m 37s"])
    print_time_seconds: int | None = None
    layer_count: int | None = None
    layer_height_mm: float | None = None
    first_layer_height_mm: float | None = None
    print_height_mm: float | None = None
    nozzle_diameter_mm: float | None = None
    filament_type: str | None = None
    filament_length_mm: float | None = None
    filament_volume_cm3: float | None = None
    filament_weight_g: float | None = None
    filament_cost: float | None = None
    # the model as sliced: its size on the bed, the factor applied to its file, and whether
    # it was shrunk to fit the bed
    size_mm: list[float] | None = None
    scale: float | None = None
    fitted_to_bed: bool | None = None


class SliceOut(ApiModel):
    slice_task_id: str
    model_id: str
    slice_status: SliceStatus
    profile: str
    gcode_url: str | None
    gcode_size: int | None
    thumbnail_url: str | None
    gcode_metadata: GcodeMetadataOut | None
    error_message: str | None
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None

    @classmethod
    def build(cls, job: SliceJob, urls: FileUrls) -> SliceOut:
        status = SLICE_STATUS_OF_JOB[job.status]
        metadata = None
        if job.gcode_metadata:
            metadata = GcodeMetadataOut.model_validate(jsonx.loads(job.gcode_metadata))
        return cls(
            slice_task_id=job.id,
            model_id=job.model_id,
            slice_status=status,
            profile=job.profile,
            gcode_url=urls.signed(job.gcode_key),  # the owner's only
            gcode_size=job.gcode_size,
            thumbnail_url=urls.signed(job.thumbnail_key),
            gcode_metadata=metadata,
            # a slice failed before its client sentence was kept apart shows its error
            error_message=shown(job.client_error or job.error_message)
            if status is SliceStatus.FAILED
            else None,
            created_at=job.created_at,
            updated_at=job.updated_at,
            completed_at=job.completed_at,
        )
