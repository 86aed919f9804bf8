"""Stream names. Logical names (`image-jobs`, `image-jobs:dlq`) are what the database stores;
Redis keys add the deployment prefix and a hash tag, so a stream, its dead-letter stream and
their bookkeeping keys share one Redis Cluster slot."""

from __future__ import annotations

IMAGE_JOBS = "image-jobs"
MODEL_JOBS = "model-jobs"
SLICE_JOBS = "slice-jobs"
WEBHOOK_JOBS = "webhook-jobs"  # signed deliveries of task events (`lumi-webhook-worker`)
JOB_STREAMS = (IMAGE_JOBS, MODEL_JOBS, SLICE_JOBS, WEBHOOK_JOBS)
DLQ_SUFFIX = "dlq"


def dlq_name(stream: str) -> str:
    return f"{stream}:{DLQ_SUFFIX}"


def stream_key(prefix: str, name: str) -> str:
    """`image-jobs` → `lumi:{image-jobs}`; `image-jobs:dlq` → `lumi:{image-jobs}:dlq`."""
    base, _, suffix = name.partition(":")
    key = f"{prefix}:{{{base}}}"
    return f"{key}:{suffix}" if suffix else key


def group_name(stream: str) -> str:
    return f"{stream}-workers"
