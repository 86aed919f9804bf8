"""The admin API on a Redis Cluster: stream health (XINFO GROUPS and CONSUMERS through the
cluster client) and dead letters listed, replayed and purged, as in `test_admin.py`."""

from __future__ import annotations

import pytest

from tests.integration.test_admin import (
    test_dead_letters_are_listed_replayed_and_purged_with_an_audit_trail,
    test_streams_show_lag_consumers_idle_time_dead_letters_and_backlog,
)

pytestmark = pytest.mark.usefixtures("empty_outbox")

__all__ = [
    "test_dead_letters_are_listed_replayed_and_purged_with_an_audit_trail",
    "test_streams_show_lag_consumers_idle_time_dead_letters_and_backlog",
]
