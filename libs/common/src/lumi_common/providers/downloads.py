"""Guarded downloads of provider results: the only way a worker fetches a URL it was handed.

A provider returns URLs we did not choose, so every download is checked before and during the
transfer: https only (plain http only for hosts named as local, such as test emulators), a host
allowlist matched on the parsed host name, redirects followed by hand and checked again, a total
timeout, a content-type check and a size cap enforced while streaming.
"""

from __future__ import annotations

import asyncio

import aiohttp
from yarl import URL

from lumi_common.errors import PermanentError, RetryableError

CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# statuses a later attempt may not see again: overload, rate limits, request timeouts
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})


class DownloadRefused(PermanentError):
    """The URL or the response breaks a rule; downloading again would break it again."""

    code = "DOWNLOAD_REFUSED"


async def download(
    session: aiohttp.ClientSession,
    url: str,
    *,
    allowed_hosts: frozenset[str],
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 - part of the guard: no caller may forget a deadline
    content_types: tuple[str, ...],
    http_hosts: frozenset[str] = frozenset(),
) -> bytes:
    """The body of `url`, or `DownloadRefused`, or `RetryableError` for what may pass.

    `allowed_hosts` entries match themselves and their subdomains (`myqcloud.com` allows
    `bucket.cos.ap-guangzhou.myqcloud.com`); `http_hosts` are the exact hosts that may be
    reached without TLS (local emulators), and must be allowed hosts too.
    """
    target = _parse(url)
    try:
        async with asyncio.timeout(timeout):
            for _ in range(MAX_REDIRECTS + 1):
                check_url(target, allowed_hosts=allowed_hosts, http_hosts=http_hosts)
                async with session.get(target, allow_redirects=False) as response:
                    if response.status not in _REDIRECTS:
                        return await _read(response, max_bytes=max_bytes, types=content_types)
                    target = _redirect_target(response)
    except TimeoutError as error:
        raise RetryableError(f"download from {_safe(target)} timed out after {timeout}s") from error
    except aiohttp.ClientError as error:
        # the class only: some aiohttp messages quote the whole URL, signature included
        message = f"download from {_safe(target)} failed: {type(error).__name__}"
        raise RetryableError(message) from error
    raise DownloadRefused(f"more than {MAX_REDIRECTS} redirects from {_safe(_parse(url))}")


def _parse(url: str) -> URL:
    try:
        return URL(url)
    except ValueError as error:
        raise DownloadRefused("malformed URL") from error


def check_url(url: URL, *, allowed_hosts: frozenset[str], http_hosts: frozenset[str]) -> None:
    host = _normalise(url.host or "")
    if not host_allowed(host, allowed_hosts):
        raise DownloadRefused(f"host {host!r} is not allowed")
    if url.scheme == "http" and host in {_normalise(local) for local in http_hosts}:
        return
    if url.scheme != "https":
        raise DownloadRefused(f"{url.scheme!r} is not allowed for {host!r}: https only")


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
        raise DownloadRefused(f"{_safe(response.url)} answered {status}")


def _redirect_target(response: aiohttp.ClientResponse) -> URL:
    location = response.headers.get("Location")
    if not location:
        raise DownloadRefused(f"redirect without a Location from {_safe(response.url)}")
    return response.url.join(_parse(location))


def _safe(url: URL) -> str:
    # signed URLs carry credentials in the query: never log or store them
    return str(url.with_query(None).with_fragment(None).with_user(None))
