"""The code works on one Redis server and on a Redis Cluster because what differs is confined:
scripts go through `lumi_common.redis_scripts` (whose every script is checked for single-slot
keys on a real cluster), pub/sub through `lumi_common.redis_pubsub`, and no pipeline is a MULTI
transaction (on a cluster, one only works within one slot). This test keeps it so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    path for folder in ("libs", "services") for path in (ROOT / folder).rglob("src/**/*.py")
)

RULES = [
    # (what is refused, where it is allowed, why)
    (r"register_script\(|\.evalsha?\(|[\"']EVAL(SHA)?[\"']", "redis_scripts.py", "scripts"),
    (r"redis\.publish\(|\.spublish\(|\.pubsub\(|\.s?subscribe\(", "redis_pubsub.py", "pub/sub"),
    (r"\.pipeline\((?!transaction=False\))", None, "a pipeline without transaction=False"),
    (r"\bfrom redis\.asyncio import Redis\b", "redis_client.py", "the Redis type (RedisClient)"),
]


@pytest.mark.parametrize(("pattern", "home", "what"), RULES, ids=[rule[2] for rule in RULES])
def test_redis_features_that_differ_on_a_cluster_stay_in_their_module(
    pattern: str, home: str | None, what: str
) -> None:
    refused = re.compile(pattern)
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in SOURCES
        if path.name != home
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if refused.search(line)
    ]
    assert offenders == [], f"{what} outside {home or 'anywhere'}"
