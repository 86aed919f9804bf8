"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

The app runs on a real port in this test's event loop; schemathesis's CLI runs as a subprocess
against it, bounded in examples per operation and in time. Every operation is fuzzed with a
valid bearer token and real resources of its caller (tasks in the states their routes act on,
completed models, a stored file), so inputs reach the handlers instead of stopping at a 401 or
a 404; logout gets a token of its own, so revoking it spoils no other operation. No input may
produce a 5xx, every response must have the documented status, content type and shape, and an
operation that only ever answered 401/403 fails the run. Only the routes that answer 501 by
design (not built yet) are left out; `test_api_guards` checks them. (Schemathesis encodes the `/`
of a file key as `%2F`, which is a different path: `GET /files/{key}` is fuzzed for its 404s, and
the route walk covers its success.)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.keys import STORAGE
from lumi_api.settings import ApiSettings
from lumi_common.ids import new_id
from tests.support.api import Client, fail_images, finish_images, issue
from tests.support.gallery import auth, completed_model

MAX_EXAMPLES = 50
MAX_SECONDS = 300  # a bound, not a budget: a run takes about a minute
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# the admin routes on dead letters: fuzzed on the image stream (of this test's own Redis keys)
ADMIN_LETTERS = (("get", ""), ("post", "_replay"), ("post", "_purge"))
# an operation that only ever answered 401/403 was not fuzzed at all
FAIL_ON = ("missing_auth",)
Sessions = async_sessionmaker[AsyncSession]


@pytest.mark.slow
@pytest.mark.timeout(MAX_SECONDS + 60)
async def test_no_input_makes_the_api_fail_or_break_its_contract(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    sessionmaker: Sessions,
    alice: IssuedToken,
    tmp_path: Path,
) -> None:
    settings = settings_factory(
        rate_limit_per_minute=0,  # thousands of requests with one token
        email_backend="console",  # send-code is fuzzed too: nothing leaves the machine
        send_code_interval_seconds=0,
        send_code_per_address_per_hour=1000,
        send_code_per_ip_per_hour=100_000,
    )
    server = await aiohttp_server(create_app(settings))
    client = cast(Client, await aiohttp_client(server))
    base = f"http://127.0.0.1:{server.port}"
    response = await client.get("/api/openapi.json")
    document = await response.json()
    parameters = await resources(client, sessionmaker, alice)
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        schemathesis_config(
            token=alice,
            logout_token=await issue(sessionmaker),
            admin_token=await issue(sessionmaker, admin=True),
            parameters=parameters,
            excluded=not_built_yet(document),
            admin_operations=admin_operations(document),
        )
    )
    report = await run_schemathesis(
        [
            "--config-file",
            str(config),
            "run",
            f"{base}/api/openapi.json",
            "--url",
            f"{base}/api/v1",
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
        ],
        cwd=tmp_path,
    )
    tested = len(document_operations(document)) - len(not_built_yet(document))
    assert f"Tested: {tested}" in report, report[-20_000:]


async def resources(client: Client, sessionmaker: Sessions, token: IssuedToken) -> dict[str, Any]:
    """Path parameters per operation id: the caller's own resources, in the states the
    operation acts on (the first valid call changes them; the rest explore the refusals)."""

    async def task() -> str:
        created = await client.post("/api/tasks", json={"prompt": "a kite"}, headers=auth(token))
        assert created.status == 201
        return str((await created.json())["data"]["id"])

    async def model() -> str:
        return str((await completed_model(client, token, sessionmaker))["id"])

    selectable, retryable = await task(), await task()
    await finish_images(sessionmaker, selectable)
    await fail_images(sessionmaker, retryable)
    key = f"images/{new_id()}/0.png"
    await client.app[STORAGE].put(key, b"\x89PNG\r\n\x1a\n", "image/png")
    shown, read = await model(), await task()
    finished = await task()  # its event stream ends at once (a live one would run to the timeout)
    cancelled = await client.post(f"/api/tasks/{finished}/cancel", headers=auth(token))
    assert cancelled.status == 200
    return {
        "get_tasks_task_id": {"task_id": read},
        "get_tasks_task_id_status": {"task_id": read},
        "get_tasks_task_id_events": {"task_id": finished},
        "patch_tasks_task_id": {"task_id": selectable},
        "post_tasks_task_id_cancel": {"task_id": await task()},
        "post_tasks_task_id_retry": {"task_id": retryable},
        "delete_tasks_task_id": {"task_id": await task()},
        "get_gallery_models_model_id": {"model_id": shown},
        "get_gallery_models_model_id_interactions": {"model_id": shown},
        "post_gallery_models_model_id_interactions": {"model_id": shown},
        "post_gallery_models_model_id_download": {"model_id": shown},
        "patch_models_model_id": {"model_id": shown},
        "patch_models_model_id_visibility": {"model_id": await model()},
        "delete_models_model_id": {"model_id": await model()},
        "get_files_key": {"key": key},
        "get_admin_tasks_task_id": {"task_id": read},
        **{
            f"{op}_admin_dead_letters_stream{action}": {"stream": "image"}
            for op, action in ADMIN_LETTERS
        },
    }


def schemathesis_config(
    *,
    token: IssuedToken,
    logout_token: IssuedToken,
    admin_token: IssuedToken,
    parameters: dict[str, dict[str, str]],
    excluded: list[str],
    admin_operations: list[str],
) -> str:
    """TOML (JSON strings are TOML strings): the token for all, logout's own, an
    administrator's for the admin routes, the resources."""
    lines = [
        f"headers = {{ Authorization = {json.dumps(token.header)} }}",
        "",
        "[warnings]",
        f"fail-on = {json.dumps(list(FAIL_ON))}",
    ]
    admin = f"headers = {{ Authorization = {json.dumps(admin_token.header)} }}"
    settings: dict[str, list[str]] = {op: [admin] for op in admin_operations}
    for op, values in parameters.items():
        settings.setdefault(op, []).append(f"parameters = {{ {_inline(values)} }}")
    operations = [(op, "\n".join(lines)) for op, lines in settings.items()]
    operations.append(
        ("post_auth_logout", f"headers = {{ Authorization = {json.dumps(logout_token.header)} }}")
    )
    operations += [(op, "enabled = false") for op in excluded]
    for op, setting in operations:
        lines += ["", "[[operations]]", f"include-operation-id = {json.dumps(op)}", setting]
    return "\n".join(lines) + "\n"


def _inline(values: dict[str, str]) -> str:
    return ", ".join(
        f"{json.dumps('path.' + name)} = {json.dumps(v)}" for name, v in values.items()
    )


async def run_schemathesis(args: list[str], *, cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "st"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=cwd,  # its report and cache directories go there
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
    return report


def admin_operations(document: dict[str, Any]) -> list[str]:
    return [
        str(operation["operationId"])
        for path, item in document["paths"].items()
        if path.startswith("/admin/") or path == "/ops"  # the console's page, as its routes
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]


def document_operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        operation
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]


def not_built_yet(document: dict[str, Any]) -> list[str]:
    return [
        operation["operationId"]
        for operation in document_operations(document)
        if "501" in operation.get("responses", {})
    ]
