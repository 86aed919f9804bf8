"""The user as `/auth/me` shows it (contract §2.1) and the `/users/update` body (A6)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictStr, StringConstraints

from lumi_api.schemas import ApiModel
from lumi_api.users.profile.repository import UserStats
from lumi_common.db.tables import User

NICK_NAME_MAX = 64
AVATAR_URL_MAX = 500
GENDER_MAX = 16

NickName = Annotated[
    StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=NICK_NAME_MAX)
]
AvatarUrl = Annotated[
    StrictStr,
    StringConstraints(strip_whitespace=True, max_length=AVATAR_URL_MAX, pattern=r"^https?://\S+$"),
]
Gender = Annotated[
    StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=GENDER_MAX)
]


class StatsOut(ApiModel):
    total_models: int
    public_models: int
    private_models: int
    total_likes: int
    total_favorites: int
    total_views: int
    total_downloads: int
    liked_models_count: int
    favorited_models_count: int
    total_requests: int
    completed_requests: int
    failed_requests: int


class UserOut(ApiModel):
    id: str
    user_name: str
    nick_name: str | None
    email: str
    avatar: str | None
    gender: str | None
    stats: StatsOut

    @classmethod
    def build(cls, user: User, stats: UserStats) -> UserOut:
        return cls(
            id=user.id,
            user_name=user.user_name,
            nick_name=user.nick_name,
            email=user.email,
            avatar=user.avatar_url,
            gender=user.gender,
            stats=StatsOut(**asdict(stats)),
        )


class UpdateProfileBody(BaseModel):
    """Only the fields sent change; `null` clears one. Web sends `{id, nick_name}`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: StrictStr | None = None
    nick_name: NickName | None = Field(
        default=None, validation_alias=AliasChoices("nick_name", "nickName")
    )
    avatar: AvatarUrl | None = None
    gender: Gender | None = None

    def changes(self) -> dict[str, str | None]:
        """Column → new value, for the fields the body carried."""
        columns = {"nick_name": "nick_name", "avatar": "avatar_url", "gender": "gender"}
        return {
            column: getattr(self, field)
            for field, column in columns.items()
            if field in self.model_fields_set
        }
