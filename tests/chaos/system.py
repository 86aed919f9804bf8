"""The Lumi the chaos suite breaks: a private MariaDB and a private Redis (restarting them harms
nobody), and the API, a standalone relay, two image workers and a model worker as real processes
(`tests.support.services`). Each fault is a method; each restarts what it broke and waits until
it answers again."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.private_mariadb import PrivateMariaDB
from tests.support.private_redis import PrivateRedis
from tests.support.processes import free_port
from tests.support.services import Service, Services, system_env

IMAGE_WORKER, MODEL_WORKER = "lumi-image-worker", "lumi-model-worker"
STALL_SECONDS = 5.0
# settings that make recovery visible within a short run
CHAOS_ENV = {
    "RELAY_ENABLED": "false",  # the API's own relay is off: the standalone one publishes
    "JOB_LEASE_SECONDS": "3",
    "RECONCILE_AFTER_SECONDS": "10",  # Redis restarted empty: jobs re-emitted this much later
    "JOB_MAX_ATTEMPTS": "5",
    "IMAGE_QUEUE_CONCURRENCY": "4",
    "MODEL_QUEUE_CONCURRENCY": "2",
    "LOG_LEVEL": "INFO",
}


@dataclass
class Window:
    """When a fault was under way, from its start until what it broke answered again."""

    fault: str
    started: float
    ended: float = 0.0

    def covers(self, moment: float, *, margin: float = 0.0) -> bool:
        return self.started - margin <= moment <= (self.ended or time.monotonic()) + margin


@dataclass
class ChaosSystem:
    directory: Path
    mariadb: PrivateMariaDB
    redis: PrivateRedis
    database_url: str
    services: Services = field(init=False)
    api: Service = field(init=False)
    relay: Service = field(init=False)
    image_workers: list[Service] = field(init=False, default_factory=list)
    model_worker: Service = field(init=False)
    # processes that exited without being killed by a fault: (name, exit code)
    crashed: list[tuple[str, int | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        env = system_env(
            database_url=self.database_url,
            redis_url=self.redis.url,
            key_prefix="chaos",
            storage_dir=self.directory / "storage",
            port=free_port(),
        )
        self.services = Services(self.directory / "logs", {**env, **CHAOS_ENV})

    @property
    def base_url(self) -> str:
        return self.services.base_url

    async def start(self) -> None:
        self.api = await self.services.start_api()
        self.relay = self.services.spawn("lumi", "relay")
        self.image_workers = [
            await self.services.start_worker(IMAGE_WORKER),
            await self.services.start_worker(IMAGE_WORKER),
        ]
        self.model_worker = await self.services.start_worker(MODEL_WORKER)

    def close(self) -> None:
        self.services.close(show_logs=False)

    def processes(self) -> list[Service]:
        return [self.api, self.relay, *self.image_workers, self.model_worker]

    def check_alive(self) -> None:
        """Record (and restart later) a process that died on its own: that is a finding."""
        for service in self.processes():
            if not service.running:
                code = service.process.returncode if service.process else None
                self.crashed.append((service.name, code))

    # -- the faults ---------------------------------------------------------------------------

    async def kill_image_worker(self, which: int) -> None:
        self.image_workers[which].kill()
        self.image_workers[which] = await self.services.start_worker(IMAGE_WORKER)

    async def kill_model_worker(self) -> None:
        self.model_worker.kill()
        self.model_worker = await self.services.start_worker(MODEL_WORKER)

    async def kill_relay(self) -> None:
        self.relay.kill()
        self.relay = self.services.spawn("lumi", "relay")

    async def kill_api(self) -> None:
        self.api.kill()
        self.api = await self.services.start_api()

    async def restart_redis(self, *, keep_data: bool) -> None:
        await asyncio.to_thread(self.redis.restart, keep_data=keep_data)

    async def stall_redis(self) -> None:
        self.redis.pause()
        try:
            await asyncio.sleep(STALL_SECONDS)
        finally:
            self.redis.resume()

    async def restart_mariadb(self) -> None:
        self.mariadb.kill()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(self.mariadb.start)

    async def restart_crashed(self) -> None:
        """Bring back what died on its own, so the run goes on (it is reported)."""
        if not self.api.running:
            self.api = await self.services.start_api()
        if not self.relay.running:
            self.relay = self.services.spawn("lumi", "relay")
        for index, worker in enumerate(self.image_workers):
            if not worker.running:
                self.image_workers[index] = await self.services.start_worker(IMAGE_WORKER)
        if not self.model_worker.running:
            self.model_worker = await self.services.start_worker(MODEL_WORKER)

    async def cli(self, *args: str) -> tuple[int, str]:
        result = await self.services.cli(*args)
        return result.returncode, result.stdout + result.stderr
