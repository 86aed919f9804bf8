"""Every metric object the services update as things happen. Names follow Prometheus
conventions: `lumi_` prefix, `_total` for counters, base units (`_seconds`). Labels take only
bounded values (route templates, job kinds, configured providers), never ids or raw paths.

In a multi-process API (`lumi_common.metrics.exposition`) each process writes these to its own
files and a scrape adds them up; gauges say how (`multiprocess_mode`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# HTTP latencies: a cached page answers in about a millisecond, a create in tens
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# jobs and provider calls: an instant picture in milliseconds, a hosted 3D model in minutes
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# commit → XADD: milliseconds when a commit wakes the relay, up to a poll interval otherwise
RELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "lumi_http_requests",
    "HTTP requests answered, by method, route template and status",
    ("method", "route", "status"),
)
HTTP_REQUEST_DURATION = Histogram(
    "lumi_http_request_duration_seconds",
    "Time from a request's arrival to its response, by method and route template",
    ("method", "route"),
    buckets=HTTP_BUCKETS,
)

JOB_LABELS = ("kind", "provider")
JOBS_CLAIMED = Counter("lumi_jobs_claimed", "Job attempts claimed by a worker", JOB_LABELS)
JOBS_COMPLETED = Counter(
    "lumi_jobs_completed", "Job attempts whose handler finished without an error", JOB_LABELS
)
JOBS_POLLED = Counter(
    "lumi_jobs_polled",
    "Job attempts that ended waiting on a provider, a poll scheduled (the job is not done yet)",
    JOB_LABELS,
)
JOBS_RETRIED = Counter(
    "lumi_jobs_retried", "Job attempts that failed and were scheduled to run again", JOB_LABELS
)
JOBS_FAILED = Counter(
    "lumi_jobs_failed", "Jobs that ended FAILED (each also dead-lettered)", JOB_LABELS
)
JOBS_DEAD_LETTERED = Counter(
    "lumi_jobs_dead_lettered",
    "Entries written to a dead-letter stream, by reason (undecodable messages have no job)",
    (*JOB_LABELS, "reason"),
)
JOB_DURATION = Histogram(
    "lumi_job_duration_seconds",
    "Time a job's handler ran, whatever its outcome",
    JOB_LABELS,
    buckets=JOB_BUCKETS,
)
PROVIDER_CALL_DURATION = Histogram(
    "lumi_provider_call_duration_seconds",
    "Calls to hosted providers, by provider, operation and outcome",
    ("provider", "operation", "outcome"),
    buckets=JOB_BUCKETS,
)

RELAY_PUBLISH_LATENCY = Histogram(
    "lumi_relay_publish_latency_seconds",
    "Outbox events from committed (or due, when delayed) to added to their stream, by who "
    "published them: the writer right after its commit, or the relay",
    ("publisher",),
    buckets=RELAY_BUCKETS,
)
GALLERY_CACHE_LOOKUPS = Counter(
    "lumi_gallery_cache_lookups",
    "Gallery page cache lookups, by result (hit or miss)",
    ("result",),
)
DB_POOL_IN_USE = Gauge(
    "lumi_db_pool_connections_in_use",
    "Database connections checked out of the pool (summed over the live processes)",
    multiprocess_mode="livesum",
)
# the request path's Redis deadline and breaker (lumi_common.redis_breaker, lumi_api.ratelimit)
RATE_LIMIT_FAILED_OPEN = Counter(
    "lumi_rate_limit_failed_open",
    "Requests let through uncounted because Redis did not answer within its deadline",
)
REDIS_BREAKER_OPENED = Counter(
    "lumi_redis_breaker_opened",
    "Times the circuit breaker of the requests' Redis calls opened (a probe failing included)",
)
