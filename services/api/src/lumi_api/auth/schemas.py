"""Bodies of the login-code routes (contract A1–A3)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, StrictStr, StringConstraints

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
