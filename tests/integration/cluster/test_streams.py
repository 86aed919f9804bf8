"""Streams on a Redis Cluster: the single-server tests of the relay (idempotent XADD, a script
per stream; the batch of both streams in one pipeline), the jobs-per-minute limit shared by
replicas (a script), dead letters (list, replay, discard, and a message nobody can read published
straight to the dead-letter stream) and `lumi streams` (XINFO GROUPS, as the metrics read
them), and `lumi doctor` on a healthy setup, re-run with `redis_url` naming the cluster."""

from __future__ import annotations

import pytest

from tests.integration.test_cli_doctor import healthy, test_a_healthy_setup
from tests.integration.test_cli_streams import test_streams_shows_length_pending_lag_dlq_and_backlog
from tests.integration.test_dead_letters import test_undecodable_messages_and_the_dlq_commands
from tests.integration.test_dlq import (
    test_a_replay_queues_each_job_once_and_empties_the_stream,
    test_discarding_removes_only_the_given_jobs_entries,
)
from tests.integration.test_ratelimit import (
    test_a_burst_runs_only_the_limit_per_minute_across_replicas,
    test_unused_permits_go_back_to_the_window_they_came_from,
)
from tests.integration.test_relay import (
    test_a_batch_published_again_adds_nothing_and_each_stream_keeps_its_order,
    test_two_relays_on_one_database_publish_each_row_once,
)

# the imported tests' own modules mark them so; a mark does not travel with an import
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("empty_outbox", "effects_table")]

__all__ = [
    "healthy",
    "test_a_batch_published_again_adds_nothing_and_each_stream_keeps_its_order",
    "test_a_burst_runs_only_the_limit_per_minute_across_replicas",
    "test_a_healthy_setup",
    "test_a_replay_queues_each_job_once_and_empties_the_stream",
    "test_discarding_removes_only_the_given_jobs_entries",
    "test_streams_shows_length_pending_lag_dlq_and_backlog",
    "test_two_relays_on_one_database_publish_each_row_once",
    "test_undecodable_messages_and_the_dlq_commands",
    "test_unused_permits_go_back_to_the_window_they_came_from",
]
