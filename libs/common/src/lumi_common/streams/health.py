"""A tiny HTTP endpoint for container probes and Prometheus (no web framework in the workers):
`GET /metrics` answers the worker's metrics, any other path its health."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from lumi_common.metrics.exposition import CONTENT_TYPE

log = structlog.get_logger(__name__)

METRICS_PATH = b"/metrics"
JSON = "application/json"


async def serve_health(
    port: int,
    healthy: Callable[[], bool],
    *,
    metrics: Callable[[], Awaitable[bytes]] | None = None,
) -> asyncio.Server:
    """Answer `GET` on any path with 200 while `healthy()` holds, else 503; with `metrics`,
    `GET /metrics` with what it renders."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=2)
            path = request_line.split(b" ")[1] if request_line.count(b" ") >= 2 else b""
            if metrics is not None and path.split(b"?")[0] == METRICS_PATH:
                body, status, content_type = await metrics(), b"200 OK", CONTENT_TYPE
            else:
                ok = healthy()
                body = b'{"status":"ok"}' if ok else b'{"status":"unhealthy"}'
                status = b"200 OK" if ok else b"503 Service Unavailable"
                content_type = JSON
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type.encode() + b"\r\n"
                b"Content-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, host="0.0.0.0", port=port)  # noqa: S104 - probes come from outside the container
    log.info("health.listening", port=port)
    return server
