"""A real Redis Cluster for tests: `redis-server` processes in cluster mode on free ports, slots
assigned by `redis-cli --cluster create`, stopped (and their files removed) at the end.

Debian's `redis-server` package provides both binaries (`.ci/run` installs it). Persistence is
off; each node's cluster config and log stay in the test's temporary directory.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.processes import free_port

READY_TIMEOUT_SECONDS = 60.0
SLOTS = 16384


def binaries() -> tuple[str, str] | None:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server, cli) if server and cli else None


@dataclass
class Node:
    port: int
    bus_port: int
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.start()

    def start(self) -> None:
        """Start the server (again: same port, same cluster identity from its config file, and
        no data, as after a crash without persistence)."""
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5, socket_connect_timeout=2)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    @property
    def running(self) -> bool:
        return self.process.poll() is None


@dataclass
class RedisClusterServers:
    """`masters` primaries with `replicas` replicas each; `node_timeout_ms` is how long a node
    may be unreachable before the others count it failed (and a replica takes over)."""

    directory: Path
    masters: int = 3
    replicas: int = 0
    node_timeout_ms: int = 5000
    nodes: list[Node] = field(default_factory=list, init=False)

    @property
    def url(self) -> str:
        """The `REDIS_URL` of the services: every node a seed."""
        return "redis+cluster://" + ",".join(node.address for node in self.nodes)

    def start(self) -> None:
        found = binaries()
        assert found is not None, "redis-server and redis-cli are needed (apt: redis-server)"
        server, cli = found
        self.directory.mkdir(parents=True, exist_ok=True)
        for _ in range(self.masters * (1 + self.replicas)):
            self.nodes.append(self._spawn(server))
        for node in self.nodes:
            _wait_for_ping(node)
        replicas = ["--cluster-replicas", str(self.replicas)]
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(n.address for n in self.nodes),
                *replicas,
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=READY_TIMEOUT_SECONDS,
        )
        self.wait_until_healthy()

    def _spawn(self, server: str) -> Node:
        port, bus_port = free_port(), free_port()
        log_path = self.directory / f"node-{port}.log"
        options = {
            "port": port,
            "cluster-port": bus_port,
            "bind": "127.0.0.1",
            "cluster-enabled": "yes",
            "cluster-config-file": self.directory / f"nodes-{port}.conf",
            "cluster-node-timeout": self.node_timeout_ms,
            "dir": self.directory,
            "save": "",
            "appendonly": "no",
            "repl-diskless-sync-delay": 0,  # replicas copy their master at once
            "logfile": log_path,
        }
        argv = [server, *(part for name, value in options.items() for part in (f"--{name}", value))]
        return Node(port, bus_port, [str(part) for part in argv], log_path)

    def wait_until_healthy(self, *, within: float = READY_TIMEOUT_SECONDS) -> None:
        """Until every running node says the cluster is ok, with every slot served, and every
        replica has copied its master's data (one that never did could not take over: it would
        count as disconnected for too long)."""
        deadline = time.monotonic() + within
        replicas = self.masters * self.replicas
        while True:
            states = [_state(node, len(self.nodes)) for node in self.nodes if node.running]
            if all(state is not None for state in states):
                in_sync = sum(state == "replica" for state in states)
                if in_sync >= min(replicas, len(states) - self.masters):
                    return
            assert time.monotonic() < deadline, f"the cluster is not ready after {within}s"
            time.sleep(0.1)

    def master_of(self, key: str) -> Node:
        """The node serving `key`'s slot now, as a running node sees it."""
        with next(node for node in self.nodes if node.running).client() as client:
            slot = int(client.execute_command("CLUSTER KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
                if int(start) <= slot <= int(end):
                    return next(node for node in self.nodes if node.port == int(master[1]))
        raise AssertionError(f"no node serves slot {slot}")

    def stop(self) -> None:
        for node in self.nodes:
            if node.running:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            try:
                node.process.wait(10)
            except subprocess.TimeoutExpired:
                node.kill()


def _wait_for_ping(node: Node) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with node.client() as client:
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert node.running, f"redis-server exited:\n{node.log_path.read_text()}"
                assert time.monotonic() < deadline, f"{node.address} did not start"
                time.sleep(0.05)


def _state(node: Node, known: int) -> str | None:
    """ "master" or "replica" (with its master's data) when the node sees a healthy cluster."""
    try:
        with node.client() as client:
            info = client.cluster("INFO")
            replication = client.info("replication")
    except redis.RedisError:
        return None
    healthy = (
        info.get("cluster_state") == "ok"
        and int(info.get("cluster_slots_ok", 0)) == SLOTS
        and int(info.get("cluster_known_nodes", 0)) == known
    )
    if not healthy:
        return None
    if replication["role"] == "master":
        return "master"
    return "replica" if replication.get("master_link_status") == "up" else None


@contextmanager
def redis_cluster(directory: Path, **options: int) -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(directory, **options)
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()
