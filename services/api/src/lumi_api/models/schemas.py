"""The model shape the apps read: every `ModelEntity` field, plus what they read but the old
server stripped (`generationJob` for progress, `user` for the author, mesh statistics)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, RootModel, StrictStr, StringConstraints

from lumi_api.files.urls import FileUrls
from lumi_api.models.repository import ModelRecord
from lumi_api.schemas import ApiModel, Timestamp
from lumi_common.db.tables import Model, ModelJob
from lumi_common.i18n import shown
from lumi_common.states import (
    JobStatus,
    ModelSource,
    PrintStatus,
    SliceStatus,
    Visibility,
)

NAME_MAX_CHARS = 100
DESCRIPTION_MAX_CHARS = 500


class UpdateModelBody(BaseModel):
    """`PATCH /models/:id`: what is absent (or a null name) stays as it is."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: (
        Annotated[
            StrictStr,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_CHARS),
        ]
        | None
    ) = None
    description: (
        Annotated[StrictStr, StringConstraints(max_length=DESCRIPTION_MAX_CHARS)] | None
    ) = None


class VisibilityBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    visibility: Visibility


class UserRef(ApiModel):
    id: str
    name: str


class GenerationJobOut(ApiModel):
    id: str
    status: JobStatus
    progress: int

    @classmethod
    def build(cls, job: ModelJob) -> GenerationJobOut:
        return cls(id=job.id, status=job.status, progress=job.progress)


class PrintSize(ApiModel):
    x: float
    y: float
    z: float

    @classmethod
    def of(cls, model: Model) -> PrintSize | None:
        sizes = (model.size_x_mm, model.size_y_mm, model.size_z_mm)
        if sizes[0] is None or sizes[1] is None or sizes[2] is None:
            return None
        return cls(x=sizes[0], y=sizes[1], z=sizes[2])


class ModelOut(ApiModel):
    id: str
    external_user_id: str
    source: ModelSource
    request_id: str | None
    source_image_id: str | None
    name: str
    description: str | None
    model_url: str | None
    mtl_url: str | None
    texture_url: str | None
    glb_url: str | None
    # the print copy: binary STL in millimetres, Z up; the viewer files above are unit-sized
    stl_url: str | None
    print_size_mm: PrintSize | None
    preview_image_url: str | None
    format: str
    file_size: int | None
    vertex_count: int | None
    face_count: int | None
    visibility: Visibility
    published_at: Timestamp | None
    view_count: int
    like_count: int
    favorite_count: int
    download_count: int
    slice_task_id: str | None
    slice_status: SliceStatus | None
    gcode_url: str | None  # the G-code of its latest completed slice
    print_status: PrintStatus | None
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None
    failed_at: Timestamp | None
    error_message: str | None
    user: UserRef
    generation_job: GenerationJobOut | None

    @classmethod
    def build(
        cls, model: Model, *, owner_name: str, job: ModelJob | None, urls: FileUrls
    ) -> ModelOut:
        link = urls.of_model(model)
        return cls(
            id=model.id,
            external_user_id=model.user_id,
            source=model.source,
            request_id=model.request_id,
            source_image_id=model.source_image_id,
            name=model.name,
            description=model.description,
            model_url=link(model.model_key),
            mtl_url=link(model.mtl_key),
            texture_url=link(model.texture_key),
            glb_url=link(model.glb_key),
            stl_url=link(model.stl_key),
            print_size_mm=PrintSize.of(model),
            preview_image_url=urls.preview(model),
            format=model.format,
            file_size=model.file_size,
            vertex_count=model.vertex_count,
            face_count=model.face_count,
            visibility=model.visibility,
            published_at=model.published_at,
            view_count=model.view_count,
            like_count=model.like_count,
            favorite_count=model.favorite_count,
            download_count=model.download_count,
            slice_task_id=model.slice_task_id,
            slice_status=model.slice_status,
            gcode_url=link(model.gcode_key),
            print_status=model.print_status,
            created_at=model.created_at,
            updated_at=model.updated_at,
            completed_at=model.completed_at,
            failed_at=model.failed_at,
            error_message=shown(model.error_message),
            user=UserRef(id=model.user_id, name=owner_name),
            generation_job=None if job is None else GenerationJobOut.build(job),
        )

    @classmethod
    def from_record(cls, record: ModelRecord, urls: FileUrls) -> ModelOut:
        return cls.build(record.model, owner_name=record.owner_name, job=record.job, urls=urls)

    def seen_by(self, viewer: str | None) -> ModelOut:
        """As someone else than its owner sees it: without the request id, which names the
        task's pictures (the unchosen ones are the owner's alone)."""
        if viewer == self.external_user_id:
            return self
        return self.model_copy(update={"request_id": None})


class ModelListOut(RootModel[list[ModelOut]]):
    """A plain array of models: what both apps read from `/users/favorites`, `/users/likes`
    and `/users/my-models`."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def from_records(
        cls, records: list[ModelRecord], urls: FileUrls, *, viewer: str
    ) -> ModelListOut:
        return cls([ModelOut.from_record(record, urls).seen_by(viewer) for record in records])

    def to_json(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.model_dump(mode="json", by_alias=True)
        return data
