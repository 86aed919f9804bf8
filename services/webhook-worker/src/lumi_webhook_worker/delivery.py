"""One HTTP attempt of a delivery, with the guards a server calling user-given URLs needs: a time
limit on the whole attempt, no redirects, a cap on what is read of the answer, and no connection
to a loopback, private or reserved address unless `WEBHOOK_ALLOW_PRIVATE=true`.

The address check sits in the connector's resolver, so it judges the very addresses aiohttp then
connects to (a name cannot resolve to a public address for a check and a private one for the
connection); aiohttp does not resolve literal IPs, which are checked here first.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.webhooks.urls import allowed_address

USER_AGENT = "Lumi-Webhooks/1"


class AddressRefused(Exception):
    """The URL's host is (or resolves to) an address deliveries may not reach."""


class AddressNotAllowed(PermanentError):
    code = "WEBHOOK_ADDRESS_REFUSED"


class DeliveryFailed(RetryableError):
    """No 2xx this time: another status, a redirect, a timeout, no connection."""

    code = "WEBHOOK_FAILED"


class GuardedResolver(AbstractResolver):
    def __init__(self, *, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            refused = sorted({r["host"] for r in found if not allowed_address(r["host"])})
            if refused:  # all or nothing: a mix is what a rebinding attack looks like
                raise AddressRefused(f"{host} resolves to {', '.join(refused)}")
        return found

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    duration_ms: int


class Sender:
    def __init__(
        self, *, timeout_seconds: float, max_response_bytes: int, allow_private: bool
    ) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.max_response_bytes = max_response_bytes
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Sender:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(allow_private=self.allow_private), limit=0
        )
        self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)
        return self

    async def __aexit__(self, *_: Any) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
        """Send once; a 2xx is the answer. Raises `RetryableError` for anything a later attempt
        may change (another status, a timeout, a refused connection) and `PermanentError` for a
        URL deliveries may never reach."""
        assert self._session is not None, "use `async with Sender(...)`"
        self._check_literal(url)
        started = time.perf_counter()
        sent = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
        try:
            async with self._session.post(
                url, data=body, headers=sent, allow_redirects=False
            ) as response:
                await response.content.read(self.max_response_bytes)  # the rest is never read
                status = response.status
        except AddressRefused as exc:
            raise AddressNotAllowed(str(exc)) from None
        except TimeoutError:
            raise DeliveryFailed(f"no answer within {self.timeout.total} s") from None
        except aiohttp.ClientError as exc:
            raise DeliveryFailed(f"could not deliver: {exc!r}") from None
        duration_ms = round((time.perf_counter() - started) * 1000)
        if not 200 <= status < 300:  # a redirect too: it is not followed
            raise DeliveryFailed(f"the receiver answered HTTP {status}")
        return Answer(status=status, duration_ms=duration_ms)

    def _check_literal(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return
        if not self.allow_private and not allowed_address(host):
            raise AddressNotAllowed(f"{host} is not a public address")
