"""The job kinds whose dead letters an operator can replay, by stream: `lumi dlq replay` and the
admin API ask here what replaying a letter means for the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lumi_common.jobs.kinds import JobKind
from lumi_common.pipeline.images import ImageJobs
from lumi_common.pipeline.models import ModelJobs
from lumi_common.pipeline.slices import SliceJobs
from lumi_common.streams.names import IMAGE_JOBS, MODEL_JOBS, SLICE_JOBS, WEBHOOK_JOBS
from lumi_common.webhooks.kind import WebhookDeliveries

_KINDS: dict[str, Callable[..., JobKind[Any, Any]]] = {
    IMAGE_JOBS: ImageJobs,
    MODEL_JOBS: ModelJobs,
    SLICE_JOBS: SliceJobs,
    WEBHOOK_JOBS: WebhookDeliveries,
}
REPLAYABLE_STREAMS = tuple(_KINDS)


def replayable_kind(stream: str, *, lease: timedelta) -> JobKind[Any, Any] | None:
    """The kind of `stream`'s jobs, or None when this code cannot replay its letters."""
    make = _KINDS.get(stream)
    return None if make is None else make(lease=lease)
