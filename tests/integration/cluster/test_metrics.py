"""The worker's metrics on a Redis Cluster: the single-server test (every outcome counted once,
the stream gauges read through the cluster client, one pipeline per stream's slot), re-run with
`redis_url` naming the cluster."""

from __future__ import annotations

import pytest

from tests.integration.test_worker_metrics import test_worker_metrics_count_every_outcome_once

# the imported test's module marks it so; a mark does not travel with an import
pytestmark = pytest.mark.usefixtures("empty_outbox", "effects_table")

__all__ = ["test_worker_metrics_count_every_outcome_once"]
