"""E-mail settings: SMTP in deployments; the console backend (codes in the log) only locally."""

from __future__ import annotations

import ipaddress
from email.utils import parseaddr
from enum import StrEnum
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from lumi_common.settings import LumiSettings


class EmailBackend(StrEnum):
    SMTP = "smtp"
    CONSOLE = "console"


class EmailSettings(LumiSettings):
    email_backend: EmailBackend = EmailBackend.CONSOLE
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # `Lumi <no-reply@example.com>` or a bare address
    smtp_from: str | None = None
    # true: upgrade with STARTTLS and refuse a server that cannot; false: plain SMTP
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("smtp_host", "smtp_username", "smtp_password", "smtp_from", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("smtp_from")
    @classmethod
    def _sender_address(cls, value: str | None) -> str | None:
        if value is not None and "@" not in parseaddr(value)[1]:
            raise ValueError("must be an address such as `Lumi <no-reply@example.com>`")
        return value

    @model_validator(mode="after")
    def _email_backend_usable(self) -> Self:
        if self.email_backend is EmailBackend.CONSOLE:
            if self.is_production:
                raise ValueError(
                    "EMAIL_BACKEND=console writes login codes to the log and is refused in "
                    "production: set EMAIL_BACKEND=smtp with SMTP_HOST and SMTP_FROM"
                )
            return self
        if not self.smtp_host or not self.smtp_from:
            raise ValueError("EMAIL_BACKEND=smtp needs SMTP_HOST and SMTP_FROM")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("SMTP_USERNAME and SMTP_PASSWORD are set together or not at all")
        if self.is_production and not self.smtp_starttls and not _is_local(self.smtp_host):
            # login codes (and the SMTP password) would cross the network in the clear
            raise ValueError(
                "SMTP_STARTTLS=false is refused in production for a host that is not local"
            )
        return self


def _is_local(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
