"""What the end-to-end tests of hosted providers share: an emulator served on this machine and
the environment a worker needs to reach it, and a request's provider calls as `lumi calls`
prints them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_aiohttp import AiohttpServer

from tests.support import tencent_emulator
from tests.support.provider_emulation import LOCAL_PROVIDER_ENV, Emulation, Emulator
from tests.support.services import Services


@dataclass(frozen=True)
class EmulatedProvider:
    emulator: Callable[[], Emulator]
    env: Callable[[str], dict[str, str]]  # the worker's settings, given the emulator's URL


def tencent_env(base_url_variable: str) -> Callable[[str], dict[str, str]]:
    def env(url: str) -> dict[str, str]:
        return {
            base_url_variable: url,
            "TENCENT_SECRET_ID": tencent_emulator.SECRET_ID,
            "TENCENT_SECRET_KEY": tencent_emulator.SECRET_KEY,
        }

    return env


async def serve(
    provider: EmulatedProvider, aiohttp_server: AiohttpServer
) -> tuple[Emulation, dict[str, str]]:
    """The emulator running, and the environment that points a worker at it."""
    emulator = provider.emulator()
    server = await aiohttp_server(emulator.app(), host="127.0.0.1")
    emulation = emulator.emulation
    emulation.base_url = str(server.make_url("")).rstrip("/")
    return emulation, {**LOCAL_PROVIDER_ENV, **provider.env(emulation.base_url)}


async def calls_of(services: Services, task_id: str) -> list[dict[str, Any]]:
    listed = await services.cli("calls", task_id, "--json")
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, Any]] = json.loads(listed.stdout)
    return rows
