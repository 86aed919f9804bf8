"""Guarded downloads against a real local HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.downloads import (
    DownloadPolicy,
    DownloadRefused,
    download,
    host_allowed,
    is_public,
)
from lumi_common.providers.http import Timeouts

PNG_TYPES = ("image/png",)
BODY = b"\x89PNG" + b"x" * 4000
LOCAL = frozenset({"127.0.0.1"})


async def image(_: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="image/png")


async def html(_: web.Request) -> web.Response:
    return web.Response(text="<html></html>", content_type="text/html")


async def chunked_without_length(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "image/png"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(64):  # 4 MiB promised, never announced
        await response.write(b"x" * 65536)
    return response


async def slow(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "image/png"})
    await response.prepare(request)
    for _ in range(20):
        await response.write(b"x")
        await asyncio.sleep(0.05)
    return response


async def unavailable(_: web.Request) -> web.Response:
    return web.Response(status=503)


async def missing(_: web.Request) -> web.Response:
    return web.Response(status=404)


async def redirect_inside(_: web.Request) -> web.Response:
    raise web.HTTPFound("/image.png")


async def redirect_outside(_: web.Request) -> web.Response:
    raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")


@pytest.fixture
async def server(aiohttp_server: AiohttpServer) -> TestServer:
    app = web.Application()
    app.router.add_get("/image.png", image)
    app.router.add_get("/page", html)
    app.router.add_get("/big", chunked_without_length)
    app.router.add_get("/slow", slow)
    app.router.add_get("/503", unavailable)
    app.router.add_get("/404", missing)
    app.router.add_get("/redirect-inside", redirect_inside)
    app.router.add_get("/redirect-outside", redirect_outside)
    return await aiohttp_server(app, host="127.0.0.1")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int = 1_000_000,
    timeout_seconds: float = 5.0,
    read_seconds: float = 5.0,
    allowed: frozenset[str] = LOCAL,
    http_hosts: frozenset[str] = LOCAL,
    allow_private: bool = True,
) -> bytes:
    policy = DownloadPolicy(
        allowed_hosts=allowed,
        max_bytes=max_bytes,
        timeouts=Timeouts(connect=2.0, read=read_seconds, total=timeout_seconds),
        http_hosts=http_hosts,
        allow_private=allow_private,
    )
    return await download(session, url, policy=policy, content_types=PNG_TYPES)


def url(server: TestServer, path: str) -> str:
    return str(server.make_url(path))


async def test_an_allowed_png_is_downloaded(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    assert await fetch(session, url(server, "/image.png")) == BODY


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("myqcloud.com", True),
        ("bucket.cos.ap-guangzhou.myqcloud.com", True),
        ("BUCKET.MyQcloud.com.", True),
        ("oss.cn-beijing.aliyuncs.com", True),
        ("x.myqcloud.com.evil.tld", False),
        ("evilmyqcloud.com", False),
        ("myqcloud.com.evil.tld", False),
        ("", False),
    ],
)
def test_allowlist_matches_exact_hosts_and_subdomains_only(host: str, allowed: bool) -> None:
    assert host_allowed(host, frozenset({"myqcloud.com", ".aliyuncs.com"})) is allowed


@pytest.mark.parametrize(
    "target",
    [
        "https://x.myqcloud.com.evil.tld/model.zip",
        "https://evilmyqcloud.com/a.png",
        "https://myqcloud.com@evil.tld/a.png",
        "http://bucket.myqcloud.com/a.png",  # allowed host, but not local: https only
        "ftp://bucket.myqcloud.com/a.png",
        "file:///etc/passwd",
        "not a url",
        "https://[::1/a.png",
    ],
)
async def test_urls_outside_the_rules_are_refused_before_connecting(
    session: aiohttp.ClientSession, target: str
) -> None:
    with pytest.raises(DownloadRefused):
        await fetch(session, target, allowed=frozenset({"myqcloud.com"}))


async def test_plain_http_needs_an_explicitly_local_host(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    with pytest.raises(DownloadRefused, match="https only"):
        await fetch(session, url(server, "/image.png"), http_hosts=frozenset())


async def test_size_cap_on_the_announced_length(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    with pytest.raises(DownloadRefused, match="limit"):
        await fetch(session, url(server, "/image.png"), max_bytes=1000)


async def test_size_cap_while_streaming_a_body_of_unknown_length(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    with pytest.raises(DownloadRefused, match="larger than the limit"):
        await fetch(session, url(server, "/big"), max_bytes=200_000)


async def test_total_timeout_is_retryable(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    with pytest.raises(RetryableError, match="timed out"):
        await fetch(session, url(server, "/slow"), timeout_seconds=0.2)


async def test_a_stalled_read_is_retryable_before_the_total_timeout(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    # /slow sends a byte every 50 ms: fine for a 1 s read timeout, not for a 20 ms one
    with pytest.raises(RetryableError):
        await fetch(session, url(server, "/slow"), read_seconds=0.02, timeout_seconds=5.0)
    assert len(await fetch(session, url(server, "/slow"), read_seconds=1.0)) == 20


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fc00::1",
     "0.0.0.0", "100.64.0.1", "224.0.0.1"],
)  # fmt: skip
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


def test_public_addresses_are() -> None:
    assert is_public("8.8.8.8")
    assert is_public("2606:4700:4700::1111")


async def test_internal_address_literals_are_refused_unless_allowed(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    with pytest.raises(DownloadRefused, match="internal address"):
        await fetch(session, url(server, "/image.png"), allow_private=False)


async def test_names_resolving_to_internal_addresses_are_refused_by_the_resolver(
    server: TestServer,
) -> None:
    policy = DownloadPolicy(
        allowed_hosts=frozenset({"localhost"}),
        max_bytes=1_000_000,
        http_hosts=frozenset({"localhost"}),
    )
    target = f"http://localhost:{server.port}/image.png"
    async with policy.session() as guarded:
        with pytest.raises(DownloadRefused, match="internal addresses only"):
            await download(guarded, target, policy=policy, content_types=PNG_TYPES)
    allowed = DownloadPolicy(
        allowed_hosts=policy.allowed_hosts,
        max_bytes=policy.max_bytes,
        http_hosts=policy.http_hosts,
        allow_private=True,
    )
    async with allowed.session() as guarded:
        assert await download(guarded, target, policy=allowed, content_types=PNG_TYPES) == BODY


async def test_a_refusal_carries_the_status_that_refused(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    with pytest.raises(DownloadRefused) as refused:
        await fetch(session, url(server, "/404"))
    assert refused.value.status == 404


async def test_wrong_content_type_is_refused(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    with pytest.raises(DownloadRefused, match="content type 'text/html'"):
        await fetch(session, url(server, "/page"))


async def test_server_errors_are_retryable_client_errors_are_not(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    with pytest.raises(RetryableError, match="503"):
        await fetch(session, url(server, "/503"))
    with pytest.raises(DownloadRefused, match="404") as refused:
        await fetch(session, url(server, "/404"))
    assert isinstance(refused.value, PermanentError)


async def test_an_unreachable_host_is_retryable(session: aiohttp.ClientSession) -> None:
    # a port nothing listens on: bind one, note it, close it
    probe = await asyncio.start_server(lambda *_: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(RetryableError, match="failed: ClientConnectorError"):
        await fetch(session, f"http://127.0.0.1:{port}/image.png")


async def test_redirects_are_followed_and_checked_again(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    assert await fetch(session, url(server, "/redirect-inside")) == BODY
    with pytest.raises(DownloadRefused, match=r"169\.254\.169\.254"):
        await fetch(session, url(server, "/redirect-outside"))


async def test_signed_query_strings_never_reach_error_messages(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    with pytest.raises(RetryableError) as error:
        await fetch(session, url(server, "/503") + "?sign=SECRET")
    assert "SECRET" not in str(error.value)
