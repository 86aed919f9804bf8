"""Request limits on a Redis Cluster: the single-server tests of `test_rate_limit.py` re-run with
`redis_url` naming the cluster. The counts of callers arriving together share one pipeline, and
their keys (one per caller and window) spread over the cluster's nodes."""

from __future__ import annotations

import pytest

from tests.integration.test_rate_limit import (
    fresh_window,
    test_a_user_past_the_limit_gets_a_jsend_429_with_retry_after,
    test_concurrent_requests_are_counted_exactly,
    test_replicas_share_one_count,
)

pytestmark = pytest.mark.slow

__all__ = [
    "fresh_window",
    "test_a_user_past_the_limit_gets_a_jsend_429_with_retry_after",
    "test_concurrent_requests_are_counted_exactly",
    "test_replicas_share_one_count",
]
