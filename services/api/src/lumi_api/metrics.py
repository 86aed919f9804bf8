"""Prometheus metrics of the API: every request counted by route template (never the raw path,
so the series stay bounded) and status, and `GET /metrics` — on the API's port, or on
`METRICS_PORT` alone so the public ingress need not expose it. Outside `/api`: not rate-limited,
not JSend. With `API_PROCESSES` > 1 whichever process answers a scrape sums all of them
(`lumi_common.metrics.exposition`)."""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import Counter, Histogram

from lumi_api.keys import ENGINE, REDIS, SESSIONMAKER, SETTINGS
from lumi_api.routing import add_route
from lumi_common.metrics.exposition import CONTENT_TYPE, Exposition
from lumi_common.metrics.outbox import OutboxStats
from lumi_common.metrics.pool import sampling_pool
from lumi_common.metrics.series import HTTP_REQUEST_DURATION, HTTP_REQUESTS
from lumi_common.metrics.streams import StreamStats
from lumi_common.streams.names import JOB_STREAMS

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"  # the route label of requests no route matched (404s, probes)
# a client may send any token as a method: the rest share one label value
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"
EXPOSITION = web.AppKey("metrics_exposition", Exposition)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    if not settings.metrics_enabled:
        return
    app.middlewares.insert(0, http_metrics)  # outermost: sees the status a client gets
    app.cleanup_ctx.append(metrics_ctx)
    if settings.metrics_port:
        app.cleanup_ctx.append(metrics_port_ctx)
        return
    add_route(
        app,
        "GET",
        METRICS_PATH,
        serve_metrics,
        summary="Prometheus metrics of the API, the outbox and the job streams (text format)",
        auth="none",
        content_type="text/plain",
        prefixed=False,
        rate_limited=False,
        tag="metrics",
    )


@web.middleware
async def http_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else UNMATCHED
        method = request.method if request.method in METHODS else OTHER_METHOD
        count, duration = _series(method, route, status)
        count.inc()
        duration.observe(time.perf_counter() - started)


@functools.cache
def _series(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """The labelled series of one kind of request, looked up once: `labels()` validates and
    locks on every call, twice the cost of the increment and the observation together. As
    bounded as the labels: routes × methods × statuses."""
    return (
        HTTP_REQUESTS.labels(method, route, str(status)),
        HTTP_REQUEST_DURATION.labels(method, route),
    )


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """After the database and Redis contexts: the per-scrape gauges read through them."""
    settings = app[SETTINGS]
    max_age = settings.metrics_cache_seconds
    streams = StreamStats(
        app[REDIS], key_prefix=settings.redis_key_prefix, streams=JOB_STREAMS, max_age=max_age
    )
    outbox = OutboxStats(app[SESSIONMAKER], max_age=max_age)
    app[EXPOSITION] = Exposition([outbox, streams], engine=app[ENGINE])
    async with sampling_pool(app[ENGINE]):
        yield


async def serve_metrics(request: web.Request) -> web.Response:
    return await render_metrics(request.app)


async def render_metrics(app: web.Application) -> web.Response:
    body = await app[EXPOSITION].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def metrics_port_ctx(app: web.Application) -> AsyncIterator[None]:
    """`GET /metrics` on its own port, served from this app's clients."""
    settings = app[SETTINGS]

    async def serve(_: web.Request) -> web.Response:
        return await render_metrics(app)

    metrics_app = web.Application()
    metrics_app.router.add_get(METRICS_PATH, serve)
    runner = web.AppRunner(metrics_app, access_log=None)
    await runner.setup()
    # every process of a multi-process API binds it too, as it binds PORT
    site = web.TCPSite(runner, settings.host, settings.metrics_port, reuse_port=True)
    await site.start()
    yield
    await runner.cleanup()
