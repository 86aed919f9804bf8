"""A real SMTP server (aiosmtpd) on the test's event loop, and the login-code flow over it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.api import Client

SENDER = "Lumi <no-reply@lumi.example.com>"
CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class Inbox:
    """What the server accepted, and how to make it refuse."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    refuse_with: str | None = None  # e.g. "554 5.7.1 rejected": DATA is refused with it
    credentials: tuple[str, str] | None = None  # when set, mail is accepted only after AUTH

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_with is not None:
            return self.refuse_with
        if self.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        given = (
            (data.login.decode(), data.password.decode())
            if isinstance(data, LoginPassword)
            else None
        )
        return AuthResult(success=given is not None and given == self.credentials)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The API settings that send through this server."""
        values: dict[str, Any] = {
            "email_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "smtp_from": SENDER,
            "smtp_starttls": False,
            "smtp_timeout_seconds": 5,
        }
        return {**values, **overrides}

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if str(m["To"]).lower() == address.lower()]

    def code_for(self, address: str) -> str:
        """The code in the latest message to `address`."""
        messages = self.to(address)
        assert messages, f"no message to {address}"
        found = CODE.search(body_of(messages[-1]))
        assert found, "no code in the message"
        return found.group(1)


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


@asynccontextmanager
async def smtp_server() -> AsyncIterator[Inbox]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            inbox,
            hostname="smtp.lumi.test",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=inbox.authenticate,
            loop=loop,
        ),
        "127.0.0.1",
        0,
    )
    inbox.port = server.sockets[0].getsockname()[1]
    try:
        yield inbox
    finally:
        server.close()
        await server.wait_closed()


async def send_code(client: Client, email: str, type_: str = "login", **kwargs: Any) -> Any:
    response = await client.post(
        "/api/auth/send-code", json={"email": email, "type": type_}, **kwargs
    )
    return response.status, await response.json()


async def request_code(client: Client, inbox: Inbox, email: str, type_: str = "login") -> str:
    status, body = await send_code(client, email, type_)
    assert (status, body) == (200, {"status": "success", "data": None})
    return inbox.code_for(email)


async def post(client: Client, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
    response = await client.post(path, json=body, **kwargs)
    return response.status, await response.json()
