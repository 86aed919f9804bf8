"""`REDIS_URL` names one server or a Redis Cluster; a bad cluster URL is one clear line at
start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis, RedisCluster

from lumi_common.redis_client import create_redis
from lumi_common.redis_url import parse_cluster_url
from lumi_common.settings import RedisSettings, describe_errors


def test_a_cluster_url_lists_its_seed_nodes() -> None:
    seeds = parse_cluster_url("redis+cluster://:secret@10.0.0.1:7000,10.0.0.2,[::1]:7002/0")
    assert seeds.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002))
    assert seeds.options_url == "redis://:secret@10.0.0.1:7000/0"


def test_a_plain_url_with_redis_cluster_names_one_seed() -> None:
    settings = RedisSettings(redis_url="rediss://cache.internal:6380?ssl_cert_reqs=none",
                             redis_cluster=True)  # fmt: skip
    assert settings.is_redis_cluster
    assert parse_cluster_url(settings.redis_url).nodes == (("cache.internal", 6380),)


def test_one_server_stays_the_default() -> None:
    assert not RedisSettings().is_redis_cluster
    assert not RedisSettings(redis_url="unix:///run/redis.sock").is_redis_cluster


@pytest.mark.parametrize(
    ("url", "cluster", "reason"),
    [
        ("redis+cluster://a:7000,b:port", False, "bad port in seed node 'b:port'"),
        ("redis+cluster://a:7000,,b:7001", False, "host:port seed nodes"),
        ("redis+cluster://a:7000/2", False, "only database 0"),
        ("redis://a:7000/1", True, "only database 0"),
        ("unix:///run/redis.sock", True, "redis+cluster://"),
        ("http://a:7000", False, "must be a redis://"),
    ],
)
def test_a_bad_redis_url_is_one_clear_line(url: str, cluster: bool, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RedisSettings(redis_url=url, redis_cluster=cluster)
    (line,) = describe_errors(caught.value)
    assert line.startswith("configuration error: REDIS_URL: ")
    assert reason in line


async def test_create_redis_makes_a_cluster_client_from_every_seed() -> None:
    url = "rediss+cluster://app:pw@10.0.0.1:7000,10.0.0.2:7001?ssl_cert_reqs=none"
    client = create_redis(RedisSettings(redis_url=url))
    assert isinstance(client, RedisCluster)
    assert sorted(node.name for node in client.startup_nodes) == [
        "10.0.0.1:7000",
        "10.0.0.2:7001",
    ]
    kwargs = client.startup_nodes[0].connection_kwargs
    assert (kwargs["username"], kwargs["password"]) == ("app", "pw")
    assert kwargs["ssl_cert_reqs"] == "none"
    assert client.startup_nodes[0].connection_class.__name__ == "SSLConnection"
    await client.aclose()


async def test_create_redis_makes_a_plain_client_for_one_server() -> None:
    client = create_redis(RedisSettings(redis_url="redis://127.0.0.1:6379/3"))
    assert isinstance(client, Redis)
    assert client.connection_pool.connection_kwargs["db"] == 3
    await client.aclose()
