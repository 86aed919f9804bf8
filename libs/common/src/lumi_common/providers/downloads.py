"""Guarded downloads of provider results: the only way a worker fetches a URL it was handed.

A provider returns URLs we did not choose, so every download is checked before and during the
transfer: https only (plain http only for hosts named as local, such as test emulators), a host
allowlist matched on the parsed host name, no internal addresses (names are resolved and private,
loopback, link-local and reserved addresses refused, unless allowed for tests), redirects
followed by hand and checked again, connect/read/total timeouts, a content-type check and a size
cap enforced while streaming.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.errors import ResultExpired
from lumi_common.providers.http import Timeouts

CHUNK_BYTES = 64 * 1024
# what a signed result URL past its time answers
EXPIRED_STATUSES = frozenset({403, 404, 410})
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# statuses a later attempt may not see again: overload, rate limits, request timeouts
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})


class DownloadRefused(PermanentError):
    """The URL or the response breaks a rule; downloading again would break it again."""

    code = "DOWNLOAD_REFUSED"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that refused us, if it came to that


@dataclass(frozen=True, slots=True)
class DownloadPolicy:
    """Where one provider's results may come from, how big and how slow they may be."""

    allowed_hosts: frozenset[str]
    max_bytes: int
    timeouts: Timeouts = field(default_factory=Timeouts)
    http_hosts: frozenset[str] = frozenset()  # exact hosts reachable without TLS (emulators)
    allow_private: bool = False  # internal addresses: tests against local emulators only

    @asynccontextmanager
    async def session(self) -> AsyncIterator[aiohttp.ClientSession]:
        """A session whose every connection goes to a vetted public address."""
        resolver = GuardedResolver(allow_private=self.allow_private)
        connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            yield session


class GuardedResolver(AbstractResolver):
    """Resolves as the system does, then keeps only addresses outside internal ranges: the check
    happens on the very addresses the connection uses, so DNS tricks (rebinding) do not help."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if self._allow_private or is_public(r["host"])]
        if not allowed:
            raise DownloadRefused(f"host {host!r} resolves to internal addresses only")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


async def download(
    session: aiohttp.ClientSession,
    url: str,
    *,
    policy: DownloadPolicy,
    content_types: tuple[str, ...],
) -> bytes:
    """The body of `url`, or `DownloadRefused`, or `RetryableError` for what may pass.

    `policy.allowed_hosts` entries match themselves and their subdomains (`myqcloud.com` allows
    `bucket.cos.ap-guangzhou.myqcloud.com`); `http_hosts` are the exact hosts that may be
    reached without TLS (local emulators), and must be allowed hosts too. Use a session from
    `policy.session()`: its resolver refuses internal addresses.
    """
    target = _parse(url)
    timeouts = policy.timeouts
    per_read = aiohttp.ClientTimeout(sock_connect=timeouts.connect, sock_read=timeouts.read)
    try:
        async with asyncio.timeout(timeouts.total):
            for _ in range(MAX_REDIRECTS + 1):
                check_url(target, policy)
                async with session.get(target, allow_redirects=False, timeout=per_read) as response:
                    if response.status not in _REDIRECTS:
                        return await _read(
                            response, max_bytes=policy.max_bytes, types=content_types
                        )
                    target = _redirect_target(response)
    except TimeoutError as error:
        limit = timeouts.total
        raise RetryableError(f"download from {_safe(target)} timed out (limit {limit}s)") from error
    except DownloadRefused:
        raise
    except aiohttp.ClientError as error:
        # the class only: some aiohttp messages quote the whole URL, signature included
        message = f"download from {_safe(target)} failed: {type(error).__name__}"
        raise RetryableError(message) from error
    raise DownloadRefused(f"more than {MAX_REDIRECTS} redirects from {_safe(_parse(url))}")


async def download_result(
    session: aiohttp.ClientSession,
    url: str,
    *,
    policy: DownloadPolicy,
    content_types: tuple[str, ...],
    what: str,
) -> bytes:
    """A provider's result by its signed URL; a URL past its time (403, 404 or 410) is
    `ResultExpired`: the job asks the provider again instead of failing."""
    try:
        return await download(session, url, policy=policy, content_types=content_types)
    except DownloadRefused as refused:
        if refused.status in EXPIRED_STATUSES:
            raise ResultExpired(f"the result of {what} expired") from refused
        raise


def _parse(url: str) -> URL:
    try:
        return URL(url)
    except ValueError as error:
        raise DownloadRefused("malformed URL") from error


def check_url(url: URL, policy: DownloadPolicy) -> None:
    host = _normalise(url.host or "")
    if not host_allowed(host, policy.allowed_hosts):
        raise DownloadRefused(f"host {host!r} is not allowed")
    if not policy.allow_private and _is_internal_literal(host):
        raise DownloadRefused(f"{host!r} is an internal address")
    if url.scheme == "http" and host in {_normalise(local) for local in policy.http_hosts}:
        return
    if url.scheme != "https":
        raise DownloadRefused(f"{url.scheme!r} is not allowed for {host!r}: https only")


def _is_internal_literal(host: str) -> bool:
    # an address written in the URL never reaches the resolver: check it here
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not is_public(host.strip("[]"))


def host_allowed(host: str, allowed_hosts: frozenset[str]) -> bool:
    """Exact match or a subdomain, on whole labels: `x.myqcloud.com.evil.tld` is not allowed."""
    host = _normalise(host)
    if not host:
        return False
    for entry in allowed_hosts:
        allowed = _normalise(entry)
        if allowed and (host == allowed or host.endswith("." + allowed)):
            return True
    return False


def _normalise(host: str) -> str:
    # DNS names are case-insensitive and may end with the root's dot; `.example.com` is
    # accepted in the allowlist as the old service wrote it
    return host.strip(".").lower()


async def _read(
    response: aiohttp.ClientResponse, *, max_bytes: int, types: tuple[str, ...]
) -> bytes:
    _check_status(response)
    if response.content_type not in {kind.lower() for kind in types}:
        raise DownloadRefused(f"content type {response.content_type!r} is not one of {types}")
    if response.content_length is not None and response.content_length > max_bytes:
        raise DownloadRefused(f"{response.content_length} bytes announced, limit {max_bytes}")
    body = bytearray()
    # checked per chunk: a body without (or lying about) its length stops at the cap, not after
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise DownloadRefused(f"body larger than the limit of {max_bytes} bytes")
    return bytes(body)


def _check_status(response: aiohttp.ClientResponse) -> None:
    status = response.status
    if status >= 500 or status in _RETRYABLE_CLIENT_ERRORS:
        raise RetryableError(f"{_safe(response.url)} answered {status}")
    if not 200 <= status < 300:
        raise DownloadRefused(f"{_safe(response.url)} answered {status}", status=status)


def _redirect_target(response: aiohttp.ClientResponse) -> URL:
    location = response.headers.get("Location")
    if not location:
        raise DownloadRefused(f"redirect without a Location from {_safe(response.url)}")
    return response.url.join(_parse(location))


def _safe(url: URL) -> str:
    # signed URLs carry credentials in the query: never log or store them
    return str(url.with_query(None).with_fragment(None).with_user(None))
