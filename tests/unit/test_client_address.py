"""Which address a rate limit counts: the peer, or behind trusted proxies the client they saw."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from lumi_api.client_address import client_address


@pytest.mark.parametrize(
    ("forwarded", "hops", "expected"),
    [
        (None, 0, "10.0.0.9"),
        ("203.0.113.7", 0, "10.0.0.9"),  # not trusted: anyone can send the header
        ("203.0.113.7", 1, "203.0.113.7"),
        ("1.1.1.1, 203.0.113.7", 1, "203.0.113.7"),  # the client made up the first entry
        ("1.1.1.1, 203.0.113.7, 198.51.100.2", 2, "203.0.113.7"),
        ("203.0.113.7", 2, "10.0.0.9"),  # fewer entries than proxies: not what we expect
    ],
)
def test_the_client_address(forwarded: str | None, hops: int, expected: str) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    request = make_mocked_request("GET", "/api/tasks", headers=headers)
    request = request.clone(remote="10.0.0.9")
    assert client_address(request, hops) == expected
