"""The generation pipeline end to end on a Redis Cluster: the single-server end-to-end tests of
`tests/e2e/test_pipeline.py`, run again with every process's `REDIS_URL` naming the cluster
(`tests/cluster/conftest.py`): create → four images → select → model, and a provider failure
dead-lettered and replayed by an operator with `lumi dlq replay`."""

from __future__ import annotations

import pytest

from tests.e2e.test_pipeline import (
    test_a_failing_provider_dead_letters_every_image_and_a_replay_finishes_them,
    test_a_prompt_becomes_four_images_then_a_printable_model,
)

# the same steps as on one server, plus a cluster client set up in every process (and every
# `lumi` command): more than the default timeout on a loaded machine
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("empty_outbox"),
]

__all__ = [
    "test_a_failing_provider_dead_letters_every_image_and_a_replay_finishes_them",
    "test_a_prompt_becomes_four_images_then_a_printable_model",
]
