"""Task request bodies and the task shape both apps read (contract §2.1 and §3)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints

from lumi_api.files.urls import FileUrls
from lumi_api.models.schemas import ModelOut
from lumi_api.schemas import ApiModel, Timestamp
from lumi_api.tasks.repository import TaskRecord
from lumi_common.db.tables import GeneratedImage
from lumi_common.states import ImageStatus, RequestPhase, RequestStatus

PROMPT_MAX_CHARS = 500
MAX_IMAGE_INDEX = 3


class CreateTaskBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    prompt: Annotated[
        StrictStr,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=PROMPT_MAX_CHARS),
    ]


class SelectImageBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    # strict: `true` and `"2"` are not indexes
    selected_image_index: StrictInt = Field(alias="selectedImageIndex", ge=0, le=MAX_IMAGE_INDEX)


class ImageOut(ApiModel):
    id: str
    request_id: str
    index: int
    image_url: str | None
    image_prompt: str | None
    image_status: ImageStatus
    created_at: Timestamp
    completed_at: Timestamp | None
    failed_at: Timestamp | None
    error_message: str | None

    @classmethod
    def build(cls, image: GeneratedImage, urls: FileUrls) -> ImageOut:
        return cls(
            id=image.id,
            request_id=image.request_id,
            index=image.image_index,
            image_url=urls(image.storage_key),
            image_prompt=image.image_prompt,
            image_status=image.status,
            created_at=image.created_at,
            completed_at=image.completed_at,
            failed_at=image.failed_at,
            error_message=image.error_message,
        )


class TaskOut(ApiModel):
    """Always with `images` (an array) and `model` (object or null): the web app maps both."""

    id: str
    external_user_id: str
    original_prompt: str
    status: RequestStatus
    phase: RequestPhase
    selected_image_index: int | None
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None
    error_message: str | None
    images: list[ImageOut]
    model: ModelOut | None

    @classmethod
    def build(cls, task: TaskRecord, urls: FileUrls) -> TaskOut:
        request = task.request
        model = None
        if task.model is not None:
            model = ModelOut.build(
                task.model, owner_name=task.owner_name, job=task.model_job, urls=urls
            )
        return cls(
            id=request.id,
            external_user_id=request.user_id,
            original_prompt=request.original_prompt,
            status=request.status,
            phase=request.phase,
            selected_image_index=request.selected_image_index,
            created_at=request.created_at,
            updated_at=request.updated_at,
            completed_at=request.completed_at,
            error_message=request.error_message,
            images=[ImageOut.build(image, urls) for image in task.images],
            model=model,
        )


class SelectionOut(ApiModel):
    """What choosing an image answers: mobile reads `task`, web reads `model`."""

    task: TaskOut
    model: ModelOut

    @classmethod
    def build(cls, task: TaskRecord, urls: FileUrls) -> SelectionOut:
        out = TaskOut.build(task, urls)
        if out.model is None:
            raise ValueError(f"task {task.request.id} has no model after its image was chosen")
        return cls(task=out, model=out.model)
