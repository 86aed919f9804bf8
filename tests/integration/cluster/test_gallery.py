"""The gallery's Redis uses on a Redis Cluster: the single-server tests of `test_gallery_list.py`
(pages cached under a generation that a write bumps, in this process and in others) and of
`test_gallery_detail.py` (views counted in a hash, taken by a script, flushed once across
replicas) re-run with `redis_url` naming the cluster."""

from __future__ import annotations

import pytest

from tests.integration.test_gallery_detail import (
    test_concurrent_views_are_counted_exactly_without_a_write_per_view,
    test_replicas_flushing_at_once_add_every_view_exactly_once,
)
from tests.integration.test_gallery_list import (
    test_a_cached_page_runs_no_query,
    test_a_write_the_lists_show_invalidates_the_cache,
    test_a_write_through_one_replica_reaches_the_pages_another_keeps_in_memory,
    test_the_model_worker_completing_a_model_invalidates_the_cache,
)

# `test_gallery_list.py` marks its tests so; a mark does not travel with an import
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("empty_gallery")]

__all__ = [
    "test_a_cached_page_runs_no_query",
    "test_a_write_the_lists_show_invalidates_the_cache",
    "test_a_write_through_one_replica_reaches_the_pages_another_keeps_in_memory",
    "test_concurrent_views_are_counted_exactly_without_a_write_per_view",
    "test_replicas_flushing_at_once_add_every_view_exactly_once",
    "test_the_model_worker_completing_a_model_invalidates_the_cache",
]
