"""What a Redis Cluster `REDIS_URL` names: its seed nodes and the options every node shares.

`redis+cluster://[user:password@]host:port[,host:port…][/0][?option=value…]` (`rediss+cluster://`
for TLS) lists seed nodes; the client learns the rest of the cluster from them. With
`REDIS_CLUSTER=true`, a plain `redis://` or `rediss://` URL names a single seed node. The options
are parsed by redis-py itself, from the URL rebuilt with the first seed node.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORT = 6379
_SCHEMES = {
    "redis+cluster": "redis",
    "rediss+cluster": "rediss",
    "redis": "redis",
    "rediss": "rediss",
}


@dataclass(frozen=True, slots=True)
class ClusterSeeds:
    nodes: tuple[tuple[str, int], ...]
    # a single-node URL with the shared options (credentials, TLS, query), for redis-py's parser
    options_url: str


def parse_cluster_url(url: str) -> ClusterSeeds:
    """The seed nodes of a cluster URL; `ValueError` with a reason people can act on."""
    scheme, sep, rest = url.partition("://")
    plain = _SCHEMES.get(scheme.lower())
    if not sep or plain is None:
        raise ValueError(
            "a Redis Cluster URL must be redis+cluster://, rediss+cluster://, "
            "or redis:// / rediss:// with REDIS_CLUSTER=true"
        )
    rest, _, query = rest.partition("?")
    authority, _, path = rest.partition("/")
    credentials, at, hosts = authority.rpartition("@")
    nodes = tuple(_node(part) for part in hosts.split(","))
    if path not in ("", "0"):
        raise ValueError("a Redis Cluster has only database 0 (the URL's path must be empty or /0)")
    host, port = nodes[0]
    options = f"{plain}://{credentials}{at}{_bracket(host)}:{port}/0" + (
        f"?{query}" if query else ""
    )
    return ClusterSeeds(nodes=nodes, options_url=options)


def _node(text: str) -> tuple[str, int]:
    if not text.strip():
        raise ValueError("a Redis Cluster URL needs host:port seed nodes, separated by commas")
    parsed = urlsplit(f"//{text.strip()}")
    try:
        port = parsed.port or DEFAULT_PORT
    except ValueError as error:
        raise ValueError(f"bad port in seed node {text!r}") from error
    if not parsed.hostname:
        raise ValueError(f"no host in seed node {text!r}")
    return parsed.hostname, port


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
