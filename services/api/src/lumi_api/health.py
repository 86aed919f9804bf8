"""Health: liveness (the process answers) and readiness (database and Redis reachable)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

import structlog
from aiohttp import hdrs, web
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lumi_api import jsend
from lumi_api.keys import ENGINE, REDIS, REDIS_BREAKER
from lumi_api.routing import add_route
from lumi_api.schemas import ApiModel

CHECK_TIMEOUT_SECONDS = 2.0

log = structlog.get_logger(__name__)


class LiveOut(ApiModel):
    status: Literal["ok"]


class ReadyOut(ApiModel):
    status: Literal["ok"]
    database: Literal["ok"]
    redis: Literal["ok"]


def setup(app: web.Application) -> None:
    # probes are never rate-limited: an orchestrator polling them must not be refused
    add_route(
        app,
        "GET",
        "/health",
        readiness,
        summary="Readiness: the database and Redis answer (503 when either is down)",
        auth="none",
        response=ReadyOut,
        responses=(503,),
        rate_limited=False,
    )
    add_route(
        app,
        "GET",
        "/health/live",
        liveness,
        summary="Liveness: the process answers",
        auth="none",
        response=LiveOut,
        rate_limited=False,
    )


async def liveness(_: web.Request) -> web.Response:
    return jsend.success(LiveOut(status="ok").to_json())


async def readiness(request: web.Request) -> web.Response:
    database, redis = await asyncio.gather(
        _probe("database", _ping_database(request.app)), _probe("redis", _ping_redis(request.app))
    )
    checks = {"database": database, "redis": redis}
    if all(state == "ok" for state in checks.values()):
        return jsend.success({"status": "ok", **checks})
    down = ", ".join(name for name, state in checks.items() if state != "ok")
    response = jsend.error(
        f"Unavailable: {down}", code="SERVICE_UNAVAILABLE", status=503, data=checks
    )
    response.headers[hdrs.RETRY_AFTER] = str(request.app[REDIS_BREAKER].retry_after)
    return response


async def _ping_database(app: web.Application) -> None:
    async with app[ENGINE].connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _ping_redis(app: web.Application) -> None:
    await app[REDIS].ping()


async def _probe(name: str, check: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except (TimeoutError, OSError, SQLAlchemyError, RedisError) as exc:
        log.warning("health.check.failed", dependency=name, error=repr(exc))
        return "down"
    return "ok"
