"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

The app runs on a real port in this test's event loop; schemathesis's CLI runs as a subprocess
against it with a valid bearer token, bounded in examples per operation and in time. No input may
produce a 5xx, and every response must have the documented status, content type and shape (so a
JSend route never answers anything but JSON in its envelope). Routes that answer 501 by design
(not built yet) are left out; `test_api_guards` checks them.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.settings import ApiSettings

MAX_EXAMPLES = 50
MAX_SECONDS = 240  # a bound, not a budget: a run takes about a minute
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@pytest.mark.slow
@pytest.mark.timeout(MAX_SECONDS + 60)
async def test_no_input_makes_the_api_fail_or_break_its_contract(
    aiohttp_server: AiohttpServer,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
    tmp_path: Path,
) -> None:
    # no rate limit: the fuzzer sends thousands of requests with one token
    server = await aiohttp_server(create_app(settings_factory(rate_limit_per_minute=0)))
    base = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api/openapi.json") as got:
        document = await got.json()
    args = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{base}/api/openapi.json",
        "--url",
        f"{base}/api/v1",
        "--header",
        f"Authorization: {alice.header}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--seed",
        "20261201",
        "--request-timeout",
        "10",
        *[arg for op in not_built_yet(document) for arg in ("--exclude-operation-id", op)],
    ]
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # its report and cache directories go there
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), MAX_SECONDS)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        pytest.fail(f"schemathesis ran past {MAX_SECONDS} s:\n{output.decode()[-20_000:]}")
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-20_000:]


def not_built_yet(document: dict[str, Any]) -> list[str]:
    return [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "501" in operation.get("responses", {})
    ]
