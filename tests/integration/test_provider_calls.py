"""Provider calls recorded as rows (one short transaction each) and read back per request with
`lumi calls`, as an operator looks up what a request cost."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.cli.errors import ExitCode
from lumi_common.db.tables import GenerationRequest, ProviderCallRecord
from lumi_common.errors import RetryableError
from lumi_common.providers.calls import CallLog, LoggedCalls, call_scope
from lumi_common.providers.errors import ContentRefused
from lumi_common.providers.stored_calls import StoredCalls
from tests.support.factories import create_task
from tests.support.processes import clean_env, script

Sessions = async_sessionmaker[AsyncSession]


async def new_request(sessionmaker: Sessions) -> str:
    return (await create_task(sessionmaker)).request_id


async def record_a_model_job(sessionmaker: Sessions, request_id: str) -> None:
    calls = CallLog((StoredCalls(sessionmaker), LoggedCalls()))
    with call_scope("model", request_id=request_id, job_id="job-1"):
        async with calls.track("tripo", "submit", model="v3.0") as call:
            call.provider_job_id = "task-9"
        with pytest.raises(RetryableError):
            async with calls.track("tripo", "poll", model="v3.0"):
                raise RetryableError("the provider answered 503")
        async with calls.track("tripo", "fetch", model="v3.0") as call:
            call.cost, call.cost_unit = 30.0, "credits"
    with call_scope("image", request_id=request_id, job_id="job-2"), pytest.raises(ContentRefused):
        async with calls.track("dashscope", "submit", model="wanx") as call:
            raise ContentRefused("DataInspectionFailed")


async def test_each_call_is_a_row_of_its_request(sessionmaker: Sessions) -> None:
    request_id = await new_request(sessionmaker)
    await record_a_model_job(sessionmaker, request_id)
    async with sessionmaker() as session:
        rows = (
            await session.scalars(
                select(ProviderCallRecord)
                .where(ProviderCallRecord.request_id == request_id)
                .order_by(ProviderCallRecord.created_at, ProviderCallRecord.id)
            )
        ).all()
    assert [(r.stage, r.provider, r.operation, r.outcome) for r in rows] == [
        ("model", "tripo", "submit", "ok"),
        ("model", "tripo", "poll", "retryable_error"),
        ("model", "tripo", "fetch", "ok"),
        ("image", "dashscope", "submit", "refused"),
    ]
    assert rows[0].provider_job_id == "task-9"
    assert (rows[2].cost, rows[2].cost_unit) == (30.0, "credits")
    assert rows[1].error == "the provider answered 503"
    assert rows[3].error == "DataInspectionFailed"  # the provider's words, not the client's
    assert all(r.duration_ms >= 0 and r.job_id for r in rows)


async def test_a_call_of_a_deleted_request_is_not_recorded_and_does_not_fail(
    sessionmaker: Sessions,
) -> None:
    request_id = await new_request(sessionmaker)
    async with sessionmaker.begin() as session:
        await session.execute(delete(GenerationRequest).where(GenerationRequest.id == request_id))
    calls = CallLog((StoredCalls(sessionmaker),))
    with call_scope("model", request_id=request_id, job_id="job-1"):
        async with calls.track("meshy", "poll", model=None):
            pass  # the foreign key refuses the row; the call itself went through


@pytest.mark.slow
async def test_lumi_calls_lists_a_requests_calls_and_their_totals(
    sessionmaker: Sessions, database_url: str, redis_url: str, key_prefix: str
) -> None:
    request_id = await new_request(sessionmaker)
    await record_a_model_job(sessionmaker, request_id)
    env = clean_env(DATABASE_URL=database_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=key_prefix)

    def lumi(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script("lumi"), "calls", *args], env=env, capture_output=True, text=True, timeout=60
        )

    listed = await asyncio.to_thread(lumi, request_id, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["provider"], r["operation"], r["outcome"]) for r in rows][-1] == (
        "dashscope",
        "submit",
        "refused",
    )
    table = await asyncio.to_thread(lumi, request_id)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "AT",
        "STAGE",
        "PROVIDER",
        "MODEL",
        "OPERATION",
        "OUTCOME",
        "MS",
        "COST",
        "UNIT",
        "JOB",
    ]
    totals = [line.split() for line in lines if line.startswith("tripo ")]
    # submit and poll report no cost; fetch reported the credits
    assert any(t[:2] == ["tripo", "2"] and t[-2:] == ["0.0", "-"] for t in totals)
    assert any(t[:2] == ["tripo", "1"] and t[-2:] == ["30.0", "credits"] for t in totals)
    unknown = await asyncio.to_thread(lumi, "01NOSUCHREQUEST00000000000")
    assert unknown.returncode == ExitCode.NOT_FOUND
    assert unknown.stderr.startswith("lumi: no provider calls recorded for request 01NOSUCH")
