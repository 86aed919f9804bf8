"""A tiny HTTP health endpoint for container probes (no web framework in the workers)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


async def serve_health(port: int, healthy: Callable[[], bool]) -> asyncio.Server:
    """Answer `GET` on any path with 200 while `healthy()` holds, else 503."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readline(), timeout=2)
            ok = healthy()
            body = b'{"status":"ok"}' if ok else b'{"status":"unhealthy"}'
            status = b"200 OK" if ok else b"503 Service Unavailable"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
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
