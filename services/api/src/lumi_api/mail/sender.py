"""Mailers: `SmtpMailer` (aiosmtplib, one connection per message) and `ConsoleMailer` (the log).

A message that could not be handed to the SMTP server is `EmailUnavailable` (502): the caller
decides what to undo. Neither mailer logs a message's content except the console one, which
exists for development and is refused in production by the settings.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import structlog

from lumi_api import texts
from lumi_api.mail.settings import EmailBackend, EmailSettings
from lumi_common.errors import AppError

log = structlog.get_logger(__name__)


class EmailUnavailable(AppError):
    status, code = 502, "EMAIL_UNAVAILABLE"
    default_message = texts.EMAIL_UNAVAILABLE


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    def __init__(self, settings: EmailSettings) -> None:
        if settings.smtp_host is None or settings.smtp_from is None:
            raise ValueError("the smtp backend needs SMTP_HOST and SMTP_FROM")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.sender = settings.smtp_from
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.starttls = settings.smtp_starttls
        self.timeout = settings.smtp_timeout_seconds

    async def send(self, message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = self.sender
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=None if self.password is None else self.password.get_secret_value(),
                # explicit both ways: never fall back to plain text when STARTTLS is wanted
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # the exception text may quote the server's reply, never the message: keep the type
            log.warning("email.send_failed", host=self.host, error_type=type(exc).__name__)
            raise EmailUnavailable() from None


class ConsoleMailer:
    """Development only: the message goes to the log instead of a mailbox."""

    async def send(self, message: EmailMessage) -> None:
        body = message.get_body(preferencelist=("plain",))
        log.warning(
            "email.printed_not_sent",
            to=message["To"],
            subject=message["Subject"],
            body=body.get_content() if isinstance(body, EmailMessage) else "",
        )


def create_mailer(settings: EmailSettings) -> Mailer:
    if settings.email_backend is EmailBackend.SMTP:
        return SmtpMailer(settings)
    return ConsoleMailer()
