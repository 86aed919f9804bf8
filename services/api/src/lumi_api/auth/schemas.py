"""Bodies and answers of the `/auth` routes (contract A1–A5)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictStr,
    StringConstraints,
)

from lumi_api.schemas import ApiModel
from lumi_api.users.profile.schemas import UserOut
from lumi_common.states import EmailCodePurpose

# lower-cased whole, as `lumi token create` stores it: one account per address, whatever the case
EmailAddress = Annotated[EmailStr, AfterValidator(str.lower)]
# web sends 6 digits, mobile allows 4-6 characters; a malformed code is no try at a real one
CodeText = Annotated[
    StrictStr, StringConstraints(strip_whitespace=True, min_length=4, max_length=6)
]


class SendCodeBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    email: EmailAddress
    type: EmailCodePurpose = EmailCodePurpose.LOGIN


class CodeBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    email: EmailAddress
    code: CodeText


class LoginOut(ApiModel):
    token: str = Field(
        description="`Bearer <token>`: both apps send it back unchanged as `Authorization`",
        examples=["Bearer p_xafcKMXWW1Y7WPTN4Dn4n16bKUbKnHXaOFT3ORXcU"],
    )


class MeOut(ApiModel):
    """Always a 200: a missing, bad or expired token is `unauthenticated` with no user."""

    status: Literal["authenticated", "unauthenticated"]
    user: UserOut | None
