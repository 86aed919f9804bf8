"""The fault driver: at random intervals, one fault at a time, every kind of fault in a shuffled
round before any repeats (so even a short run injects each kind). Each fault is timed from its
start until what it broke answers again; that window is when errors are expected."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from tests.chaos.system import ChaosSystem, Window

log = structlog.get_logger(__name__)

FAULT_KINDS = (
    "kill -9 image worker",
    "kill -9 model worker",
    "kill -9 relay",
    "kill -9 API",
    "restart Redis (data kept)",
    "restart Redis (data lost)",
    "restart MariaDB (kill -9)",
    "stall Redis 5 s (SIGSTOP)",
)


@dataclass
class FaultLog:
    windows: list[Window] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for window in self.windows if window.fault == kind)

    def recovery(self, kind: str) -> float:
        """The longest time from a fault of this kind until what it broke answered again."""
        spans = [w.ended - w.started for w in self.windows if w.fault == kind and w.ended]
        return max(spans, default=0.0)

    def during(self, kind_prefix: str, moment: float, *, margin: float) -> bool:
        return any(
            w.covers(moment, margin=margin) for w in self.windows if w.fault.startswith(kind_prefix)
        )


def _actions(system: ChaosSystem) -> dict[str, Callable[[], Awaitable[None]]]:
    return {
        "kill -9 image worker": lambda: system.kill_image_worker(random.randrange(2)),
        "kill -9 model worker": system.kill_model_worker,
        "kill -9 relay": system.kill_relay,
        "kill -9 API": system.kill_api,
        "restart Redis (data kept)": lambda: system.restart_redis(keep_data=True),
        "restart Redis (data lost)": lambda: system.restart_redis(keep_data=False),
        "restart MariaDB (kill -9)": system.restart_mariadb,
        "stall Redis 5 s (SIGSTOP)": system.stall_redis,
    }


async def inject_faults(
    system: ChaosSystem, faults: FaultLog, *, until: float, gap: tuple[float, float]
) -> None:
    """Until `until` (monotonic), and at least one fault of every kind: wait a random gap,
    inject the next fault, wait until what it broke answers again."""
    actions = _actions(system)
    round_: list[str] = random.sample(FAULT_KINDS, len(FAULT_KINDS))
    while True:
        await asyncio.sleep(random.uniform(*gap))
        if time.monotonic() >= until and len(faults.windows) >= len(FAULT_KINDS):
            return
        if not round_:
            round_ = random.sample(FAULT_KINDS, len(FAULT_KINDS))
        kind = round_.pop()
        system.check_alive()
        await system.restart_crashed()
        window = Window(kind, time.monotonic())
        faults.windows.append(window)
        log.info("chaos.fault.injected", fault=kind)
        await actions[kind]()
        window.ended = time.monotonic()
        log.info("chaos.fault.healed", fault=kind, seconds=round(window.ended - window.started, 2))
