"""Login-code limits on a Redis Cluster: the single-server tests of `test_auth_send_code.py`
re-run with `redis_url` naming the cluster. One script checks and records every limit of a
request; its keys share the `{send-code}` hash tag."""

from __future__ import annotations

import pytest

from tests.integration.test_auth_send_code import (
    app_with,
    client,
    inbox,
    test_at_most_five_codes_per_address_per_hour,
    test_codes_per_client_address_are_limited,
    test_one_code_per_address_per_interval,
)

pytestmark = pytest.mark.slow

__all__ = [
    "app_with",
    "client",
    "inbox",
    "test_at_most_five_codes_per_address_per_hour",
    "test_codes_per_client_address_are_limited",
    "test_one_code_per_address_per_interval",
]
