"""What the gallery reads (query, bodies) and answers (list items, interaction states)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from lumi_api.files.urls import FileUrls
from lumi_api.gallery.repository import GallerySort
from lumi_api.models.schemas import UserRef
from lumi_api.schemas import ApiModel, Timestamp
from lumi_common.db.tables import Model
from lumi_common.states import InteractionType, Visibility

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# deeper pages than this are refused (400), not handed to the database
MAX_OFFSET = 100_000
MAX_BATCH_IDS = 100
MAX_ID_CHARS = 64


class GalleryQuery(BaseModel):
    """Web sends `sortBy=latest|popular`, mobile `sort=latest|popular|liked` (and a `category`
    that means nothing here); `sortBy` wins when both are given."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sort: GallerySort | None = None
    sort_by: GallerySort | None = Field(default=None, alias="sortBy")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)

    @property
    def order(self) -> GallerySort:
        return self.sort_by or self.sort or GallerySort.LATEST


class InteractionBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: InteractionType


class BatchInteractionsBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    ids: list[Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]] = (
        Field(alias="modelIds", min_length=1, max_length=MAX_BATCH_IDS)
    )


class GalleryItemOut(ApiModel):
    """The contract's `ModelSummary`, plus what the old server computed and then stripped: the
    author, the view count, the description and the model's own URL."""

    id: str
    name: str
    description: str | None
    preview_image_url: str | None
    model_url: str | None
    format: str
    visibility: Visibility
    view_count: int
    like_count: int
    favorite_count: int
    download_count: int
    created_at: Timestamp
    published_at: Timestamp | None
    user: UserRef

    @classmethod
    def build(cls, model: Model, *, owner_name: str, urls: FileUrls) -> GalleryItemOut:
        return cls(
            id=model.id,
            name=model.name,
            description=model.description,
            preview_image_url=urls.preview(model),
            model_url=urls.of_model(model)(model.model_key),
            format=model.format,
            visibility=model.visibility,
            view_count=model.view_count,
            like_count=model.like_count,
            favorite_count=model.favorite_count,
            download_count=model.download_count,
            created_at=model.created_at,
            published_at=model.published_at,
            user=UserRef(id=model.user_id, name=owner_name),
        )


class GalleryPageOut(ApiModel):
    items: list[GalleryItemOut]
    total: int
    has_more: bool


class ToggleOut(ApiModel):
    is_interacted: bool
    type: InteractionType
    like_count: int
    favorite_count: int


def _absent(schema: dict[str, Any]) -> None:
    """Documented as the boolean it is when present; absent (never null) otherwise."""
    schema.pop("default", None)


class InteractionsOut(ApiModel):
    """The caller's likes and favourites of one model. An anonymous caller gets only
    `{isAuthenticated: false, interactions: []}`, as from the old server."""

    is_authenticated: bool
    interactions: list[InteractionType]
    is_liked: bool | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_absent)
    is_favorited: bool | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_absent)

    @classmethod
    def build(cls, kinds: set[InteractionType] | None) -> InteractionsOut:
        """`kinds` is None for an anonymous caller."""
        if kinds is None:
            return cls(is_authenticated=False, interactions=[])
        return cls(
            is_authenticated=True,
            interactions=[kind for kind in InteractionType if kind in kinds],
            is_liked=InteractionType.LIKE in kinds,
            is_favorited=InteractionType.FAVORITE in kinds,
        )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class InteractionStateOut(ApiModel):
    is_liked: bool = False
    is_favorited: bool = False


class BatchInteractionsOut(ApiModel):
    """An entry for every requested id when signed in; none for an anonymous caller."""

    is_authenticated: bool
    interactions: dict[str, InteractionStateOut]
