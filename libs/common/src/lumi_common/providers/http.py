"""One JSON request to a hosted provider, with transport failures classified once.

Network trouble, timeouts, 5xx, 408/409/425 and bodies that are not JSON are retryable; 429 is
`RateLimited` with the provider's `Retry-After`. Other 4xx answers come back to the adapter,
which knows what the provider's error body means (a moderation refusal, a bad key, ...).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pydantic import SecretStr

from lumi_common.errors import RetryableError
from lumi_common.providers.errors import RateLimited

DEFAULT_RETRY_AFTER_SECONDS = 10.0
MAX_RETRY_AFTER_SECONDS = 3600.0
MAX_ERROR_TEXT = 300
_RETRYABLE = frozenset({408, 409, 425})


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    read: float = 60.0  # between two reads of the answer
    total: float = 120.0

    def client(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=self.total, sock_connect=self.connect, sock_read=self.read
        )


DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    payload: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def send_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    timeouts: Timeouts,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    data: bytes | aiohttp.FormData | None = None,
) -> Reply:
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            json=json,
            data=data,
            timeout=timeouts.client(),
            allow_redirects=False,
        ) as response:
            _raise_for_transport(response)
            payload = await _payload(response)
            return Reply(response.status, payload, dict(response.headers))
    except TimeoutError as error:
        raise RetryableError(f"{_where(url)} did not answer in time") from error
    except aiohttp.ClientError as error:
        raise RetryableError(f"{_where(url)} unreachable: {type(error).__name__}") from error


@dataclass(frozen=True, slots=True)
class BearerApi:
    """A JSON API under `base_url` that takes a bearer key (Tripo, Meshy, DashScope, ...)."""

    base_url: str
    api_key: SecretStr
    timeouts: Timeouts = DEFAULT_TIMEOUTS

    async def send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | aiohttp.FormData | None = None,
    ) -> Reply:
        auth = {"Authorization": f"Bearer {self.api_key.get_secret_value()}", **(headers or {})}
        url = self.base_url.rstrip("/") + path
        return await send_json(
            session, method, url, headers=auth, json=json, data=data, timeouts=self.timeouts
        )


def _raise_for_transport(response: aiohttp.ClientResponse) -> None:
    status = response.status
    if status == 429:
        wait = retry_after(response.headers.get("Retry-After"))
        raise RateLimited(f"{_where(str(response.url))} rate limit (429)", retry_after=wait)
    if status >= 500 or status in _RETRYABLE:
        raise RetryableError(f"{_where(str(response.url))} answered {status}")


async def _payload(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        payload = await response.json(content_type=None)
    except ValueError as error:
        raise RetryableError(f"{_where(str(response.url))} sent a body that is not JSON") from error
    if not isinstance(payload, dict):
        raise RetryableError(f"{_where(str(response.url))} sent JSON that is not an object")
    return payload


def retry_after(value: str | None, *, now: float | None = None) -> float:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date), bounded."""
    if not value:
        return DEFAULT_RETRY_AFTER_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER_SECONDS
        seconds = moment.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def error_text(payload: Mapping[str, Any], *keys: str) -> str:
    """The first non-empty of `payload[key]` (or `payload[key]["message"]`), shortened."""
    for key in keys:
        value = payload.get(key)
        if isinstance(value, dict):
            value = value.get("message")
        if value:
            return str(value)[:MAX_ERROR_TEXT]
    return "no reason given"


def _where(url: str) -> str:
    # never the query: signed URLs carry credentials there
    return url.split("?", 1)[0]
