"""Prometheus metrics of every Lumi service: the metric objects (`series`), collectors computed
once per scrape (`scrape`, `streams`, `outbox`, `pool`) and their exposition (`exposition`).

Code that records something increments the objects of `series`; nobody defines metric names of
their own, so the names stay one list (docs/operations.md) that dashboards and alerts rely on.
"""

from lumi_common.metrics.series import (
    DB_POOL_IN_USE,
    GALLERY_CACHE_LOOKUPS,
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    JOB_DURATION,
    JOBS_CLAIMED,
    JOBS_COMPLETED,
    JOBS_DEAD_LETTERED,
    JOBS_FAILED,
    JOBS_POLLED,
    JOBS_RETRIED,
    PROVIDER_CALL_DURATION,
    RATE_LIMIT_FAILED_OPEN,
    REDIS_BREAKER_OPENED,
    RELAY_PUBLISH_LATENCY,
)

__all__ = [
    "DB_POOL_IN_USE",
    "GALLERY_CACHE_LOOKUPS",
    "HTTP_REQUESTS",
    "HTTP_REQUEST_DURATION",
    "JOBS_CLAIMED",
    "JOBS_COMPLETED",
    "JOBS_DEAD_LETTERED",
    "JOBS_FAILED",
    "JOBS_POLLED",
    "JOBS_RETRIED",
    "JOB_DURATION",
    "PROVIDER_CALL_DURATION",
    "RATE_LIMIT_FAILED_OPEN",
    "REDIS_BREAKER_OPENED",
    "RELAY_PUBLISH_LATENCY",
]
