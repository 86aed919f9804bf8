"""Task request bodies and the task shape both apps read (contract §2.1 and §3)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)

from lumi_api import texts
from lumi_api.files.urls import FileUrls
from lumi_api.models.schemas import ModelOut
from lumi_api.schemas import ApiModel, Timestamp
from lumi_api.tasks.repository import TaskRecord
from lumi_api.tasks.service import NewTask, TaskPage
from lumi_common.db.tables import GeneratedImage
from lumi_common.i18n import InvalidValue, shown
from lumi_common.states import ImageStatus, RequestPhase, RequestStatus

PROMPT_MAX_CHARS = 500
MAX_IMAGE_INDEX = 3
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# bounds that keep OFFSET a plain integer for every database, far past any real history
MAX_OFFSET = 10_000_000
MAX_PAGE = MAX_OFFSET // MAX_PAGE_SIZE


def _stripped_as_python_does(value: str) -> str:
    """Python's idea of whitespace (which the prompt providers use) is wider than pydantic's:
    `"\x1f"` survives pydantic's strip, then is an empty prompt to a provider."""
    value = value.strip()
    if not value:
        raise InvalidValue(texts.TEXT_EMPTY)
    return value


class CreateTaskBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    prompt: Annotated[
        StrictStr,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=PROMPT_MAX_CHARS),
        AfterValidator(_stripped_as_python_does),
    ]
    # API clients only (the apps send none): this task's webhook events also go there
    callback_url: StrictStr | None = Field(default=None, alias="callbackUrl", min_length=1)


class SelectImageBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    # strict: `true` and `"2"` are not indexes
    selected_image_index: StrictInt = Field(alias="selectedImageIndex", ge=0, le=MAX_IMAGE_INDEX)


class RetryBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["images", "model"]


class TaskListQuery(ApiModel):
    """Web pages with `limit` (and `offset`); mobile with `page` (from 1) and `pageSize`."""

    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] | None = None
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] | None = None
    page: Annotated[int, Field(ge=1, le=MAX_PAGE)] | None = None
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] | None = None

    @model_validator(mode="after")
    def _one_way_of_paging(self) -> Self:
        if self.page is not None and self.offset is not None:
            raise InvalidValue(texts.PAGE_OR_OFFSET)
        return self

    def window(self) -> tuple[int, int]:
        """(limit, offset)."""
        size = self.page_size or self.limit or DEFAULT_PAGE_SIZE
        if self.page is not None:
            return size, (self.page - 1) * size
        return size, self.offset or 0


class SinceQuery(ApiModel):
    # parsed by the route, which also takes a `+01:00` offset that arrives as ` 01:00`
    since: Annotated[str, Field(json_schema_extra={"format": "date-time"})] | None = None


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
            image_url=urls.signed(image.storage_key),  # the owner's only
            image_prompt=image.image_prompt,
            image_status=image.status,
            created_at=image.created_at,
            completed_at=image.completed_at,
            failed_at=image.failed_at,
            error_message=shown(image.error_message),
        )


OFFLINE_PROMPTS = "offline"


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
    # who wrote the image prompts: "offline" (fixed styles, at creation), a chat model
    # ("openai"), or "openai:pending" while one is asked; the note says why a chat model's
    # variants were not used
    prompt_provider: str
    prompt_note: str | None
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
            error_message=shown(request.error_message),
            prompt_provider=request.prompt_provider or OFFLINE_PROMPTS,
            prompt_note=request.prompt_note,
            images=[ImageOut.build(image, urls) for image in task.images],
            model=model,
        )

    @classmethod
    def created(cls, task: NewTask) -> TaskOut:
        """What reading a task just created would answer, from the values written."""
        at = task.created_at
        images = [
            ImageOut(
                id=image.id,
                request_id=task.id,
                index=image.index,
                image_url=None,
                image_prompt=image.prompt,
                image_status=ImageStatus.PENDING,
                created_at=at,
                completed_at=None,
                failed_at=None,
                error_message=None,
            )
            for image in task.images
        ]
        return cls(
            id=task.id,
            external_user_id=task.user_id,
            original_prompt=task.prompt,
            status=RequestStatus.IMAGE_PENDING,
            phase=RequestPhase.IMAGE_GENERATION,
            selected_image_index=None,
            created_at=at,
            updated_at=at,
            completed_at=None,
            error_message=None,
            prompt_provider=OFFLINE_PROMPTS,
            prompt_note=None,
            images=images,
            model=None,
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


class TaskListOut(ApiModel):
    """`total` is the user's real total, not the page's length (the old server's bug)."""

    items: list[TaskOut]
    total: int

    @classmethod
    def build(cls, page: TaskPage, urls: FileUrls) -> TaskListOut:
        return cls(items=[TaskOut.build(task, urls) for task in page.tasks], total=page.total)
