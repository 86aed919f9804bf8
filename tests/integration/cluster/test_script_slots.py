"""Every Lua script is called with keys in one cluster slot: checked, not assumed.

The test finds every `BatchedScript` defined in the `lumi_*` packages, drives the real code paths
that call them against the cluster (the API's routes and background flush, the relay, a worker's
consumer with a jobs-per-minute limit), and reads what the nodes ran from their MONITOR feed: for
every EVALSHA it computes the slot of each key. A script no driver reaches fails the test, so a
new script needs a driver here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import pkgutil
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from pytest_aiohttp import AiohttpClient
from redis.asyncio import RedisCluster
from redis.crc import key_slot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.gallery.views import view_counter
from lumi_api.settings import ApiSettings
from lumi_common.pipeline.images import ImageJobs
from lumi_common.redis_client import RedisClient
from lumi_common.redis_scripts import BatchedScript
from tests.support.api import Client, issue, unique_email
from tests.support.gallery import auth, completed_model
from tests.support.handlers import image_handler, record_effects
from tests.support.pipeline import consumer, relay_all, wait_until
from tests.support.redis_cluster import RedisClusterServers
from tests.support.smtp import send_code

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("empty_outbox", "effects_table")]
Sessions = async_sessionmaker[AsyncSession]
QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"')


def defined_scripts() -> dict[str, str]:
    """Every module-level `BatchedScript` of the `lumi_*` packages: its name, by SHA."""
    found: dict[str, str] = {}
    for top in sorted(m.name for m in pkgutil.iter_modules() if m.name.startswith("lumi_")):
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{top}."):
            if info.name.endswith(".__main__") or ".migrations" in info.name:
                continue
            for name, value in vars(importlib.import_module(info.name)).items():
                if isinstance(value, BatchedScript):
                    found.setdefault(value.sha, f"{info.name}.{name}")
    return found


@dataclass
class Monitor:
    """What the nodes run, as their MONITOR feeds report it."""

    ports: list[int]
    lines: list[bytes] = field(default_factory=list)

    def script_calls(self) -> list[tuple[str, list[bytes]]]:
        """Each EVALSHA: the script's SHA and the keys it was called with."""
        calls = []
        for line in self.lines:
            args = QUOTED.findall(line)
            if len(args) >= 3 and args[0].lower() == b"evalsha":
                keys = args[3 : 3 + int(args[2])]
                calls.append((args[1].decode(), keys))
        return calls

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[Monitor]:
        streams = [await asyncio.open_connection("127.0.0.1", port) for port in self.ports]
        for reader, writer in streams:
            writer.write(b"MONITOR\r\n")
            await writer.drain()
            assert await reader.readline() == b"+OK\r\n"
        readers = [asyncio.create_task(self._read(reader)) for reader, _ in streams]
        try:
            yield self
        finally:
            for task in readers:
                task.cancel()
            for _, writer in streams:
                writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            self.lines.append(line)

    async def settle(self, redis: RedisClient, marker: str) -> None:
        """Until every node's feed has caught up with a command sent after the drivers."""
        assert isinstance(redis, RedisCluster)
        for port in self.ports:
            node = redis.get_node(host="127.0.0.1", port=port)
            await redis.execute_command("ECHO", marker, target_nodes=node)

        async def caught_up() -> bool:
            return sum(marker.encode() in line for line in self.lines) == len(self.ports)

        await wait_until(caught_up, within=10)


async def drive_the_api(client: Client, sessionmaker: Sessions) -> None:
    """Requests counted by the rate limit; a task created (its events published) and a model
    chosen; a login code asked for and a wrong one tried; a gallery model viewed, its views
    flushed."""
    token = await issue(sessionmaker)
    model = await completed_model(client, token, sessionmaker)
    viewed = await client.get(f"/api/gallery/models/{model['id']}", headers=auth(token))
    assert viewed.status == 200
    assert await view_counter(client.app).flush(sessionmaker) == 1
    email = unique_email()
    status, _ = await send_code(client, email)
    assert status == 200
    # a wrong code: the login attempt counters' script
    wrong = await client.post("/api/auth/login", json={"email": email, "code": "000000"})
    assert wrong.status == 400


async def drive_a_worker(sessionmaker: Sessions, redis: RedisClient, prefix: str) -> None:
    """The relay publishes the task's image jobs; a consumer limited per minute runs them."""
    assert await relay_all(sessionmaker, redis, prefix) > 0
    kind = ImageJobs(lease=timedelta(seconds=5))
    handler = image_handler(sessionmaker, kind)
    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=handler,
        on_done=record_effects,
        prefix=prefix,
        jobs_per_minute=1000,
    )
    await worker.run(burst=True)


async def test_every_script_is_called_with_keys_in_one_slot(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    sessionmaker: Sessions,
    redis: RedisClient,
    redis_cluster: RedisClusterServers,
    key_prefix: str,
) -> None:
    scripts = defined_scripts()
    client = await aiohttp_client(create_app(settings_factory(rate_limit_per_minute=1000)))
    monitor = Monitor([node.port for node in redis_cluster.nodes])
    async with monitor.watching():
        await drive_the_api(client, sessionmaker)
        await drive_a_worker(sessionmaker, redis, key_prefix)
        await monitor.settle(redis, f"settled-{secrets.token_hex(4)}")

    calls = [
        (sha, keys)
        for sha, keys in monitor.script_calls()
        if all(key.startswith(key_prefix.encode()) for key in keys)
    ]
    spanning = [(scripts.get(sha, sha), keys) for sha, keys in calls if len(slots(keys)) != 1]
    assert spanning == []
    unreached = set(scripts) - {sha for sha, _ in calls}
    assert sorted(scripts[sha] for sha in unreached) == [], "add a driver for these scripts"
    widest = {scripts[sha]: max(len(k) for s, k in calls if s == sha) for sha in scripts}
    # the multi-key scripts were called with several keys (a stream and its markers; the limits
    # of a login code)
    assert widest["lumi_common.streams.publish._XADD_EACH_ONCE"] > 2
    assert widest["lumi_api.auth.ratelimit._TAKE"] > 1


def slots(keys: list[bytes]) -> set[int]:
    return {key_slot(key) for key in keys}
