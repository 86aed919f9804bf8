"""The job series of one consumer, their labels bound once: the runtime records each outcome
with one call here (`lumi_common.streams.consumer`), whatever the handler did."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from lumi_common.metrics.series import (
    JOB_DURATION,
    JOBS_CLAIMED,
    JOBS_COMPLETED,
    JOBS_DEAD_LETTERED,
    JOBS_FAILED,
    JOBS_POLLED,
    JOBS_RETRIED,
)

NO_PROVIDER = "none"


class JobMetrics:
    def __init__(self, *, stream: str, provider: str = NO_PROVIDER) -> None:
        # `image-jobs` → kind `image`: the label says what the jobs are, not where they queue
        self.kind, self.provider = stream.removesuffix("-jobs"), provider or NO_PROVIDER
        labels = (self.kind, self.provider)
        self._claimed: Counter = JOBS_CLAIMED.labels(*labels)
        self._completed: Counter = JOBS_COMPLETED.labels(*labels)
        self._polled: Counter = JOBS_POLLED.labels(*labels)
        self._retried: Counter = JOBS_RETRIED.labels(*labels)
        self._failed: Counter = JOBS_FAILED.labels(*labels)
        self._duration: Histogram = JOB_DURATION.labels(*labels)

    def claimed(self) -> None:
        self._claimed.inc()

    def ran(self, seconds: float) -> None:
        """The handler returned or raised after `seconds`."""
        self._duration.observe(seconds)

    def completed(self) -> None:
        self._completed.inc()

    def polled(self) -> None:
        """The handler asked to be run again after a wait (a provider still working)."""
        self._polled.inc()

    def retried(self) -> None:
        self._retried.inc()

    def dead_lettered(self, reason: str, *, job_failed: bool = True) -> None:
        """A dead letter written; `job_failed` unless the message had no job (undecodable)."""
        if job_failed:
            self._failed.inc()
        JOBS_DEAD_LETTERED.labels(self.kind, self.provider, reason).inc()
