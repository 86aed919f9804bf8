"""`POST /api/slices`, `GET /api/slices/:id`, `POST /api/tasks/:id/print`: the owner slices a
completed model; the slice job, the model's slice state and the worker's event are written
together; one slice at a time; a finished one is replaced with its files."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import IssuedToken
from lumi_api.keys import STORAGE
from lumi_common.db.tables import FileDeletion, Model, OutboxEvent, SliceJob
from lumi_common.ids import new_id
from lumi_common.messages import SliceJobRequested, decode
from lumi_common.pipeline.slices import SliceFiles, SliceJobs, complete_slices
from lumi_common.states import JobStatus
from lumi_common.storage import slice_prefix
from lumi_common.streams.names import SLICE_JOBS
from tests.support.api import Client
from tests.support.gallery import auth, completed_model, requested_model

Sessions = async_sessionmaker[AsyncSession]
SLICE_FIELDS = {
    "sliceTaskId", "modelId", "sliceStatus", "profile", "gcodeUrl", "gcodeSize", "thumbnailUrl",
    "gcodeMetadata", "errorMessage", "createdAt", "updatedAt", "completedAt",
}  # fmt: skip


async def call(
    client: Client, method: str, path: str, token: IssuedToken, body: Any = None
) -> tuple[int, Any]:
    response = await client.request(method, path, json=body, headers=auth(token))
    return response.status, await response.json()


async def slices_of(sessionmaker: Sessions, model_id: str) -> list[SliceJob]:
    async with sessionmaker() as session:
        query = select(SliceJob).where(SliceJob.model_id == model_id)
        return list((await session.scalars(query)).all())


async def events_for(sessionmaker: Sessions, key: str) -> list[OutboxEvent]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(OutboxEvent).where(OutboxEvent.key == key)))


async def finish(sessionmaker: Sessions, slice_id: str, status: JobStatus) -> None:
    """As the worker leaves a slice: COMPLETED with its G-code, or FAILED."""
    async with sessionmaker.begin() as session:
        job = await session.get_one(SliceJob, slice_id)
        job.status = status
        if status is JobStatus.COMPLETED:
            job.gcode_key = slice_prefix(job.model_id, job.id) + "model.gcode"


async def test_the_owner_slices_a_completed_model(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    status, body = await call(client, "POST", "/api/slices", alice, {"modelId": model["id"]})
    assert status == 201, body
    data = body["data"]
    assert set(data) == {"modelId", "sliceTaskId", "sliceStatus", "message"}
    assert (data["modelId"], data["sliceStatus"]) == (model["id"], "PROCESSING")
    assert data["message"]

    [job] = await slices_of(sessionmaker, model["id"])
    assert (job.id, job.status, job.user_id) == (
        data["sliceTaskId"],
        JobStatus.QUEUED,
        alice.user_id,
    )
    assert job.profile == "generic-pla-0.20mm"  # SLICE_PROFILE's default
    [event] = await events_for(sessionmaker, job.id)
    assert event.stream == SLICE_JOBS
    message = decode(event.payload)
    assert isinstance(message, SliceJobRequested)
    assert (message.job_id, message.model_id) == (job.id, model["id"])

    # the web app polls the slice, and its model detail resumes polling on PROCESSING
    for prefix in ("/api", "/api/v1"):
        status, body = await call(client, "GET", f"{prefix}/slices/{job.id}", alice)
        assert status == 200
        polled = body["data"]
        assert set(polled) == SLICE_FIELDS
        assert (polled["sliceTaskId"], polled["modelId"]) == (job.id, model["id"])
        assert (polled["sliceStatus"], polled["gcodeUrl"], polled["errorMessage"]) == (
            "PENDING",
            None,
            None,
        )
    status, body = await call(client, "GET", f"/api/gallery/models/{model['id']}", alice)
    detail = body["data"]
    assert (detail["sliceTaskId"], detail["sliceStatus"]) == (job.id, "PROCESSING")
    assert (detail["printStatus"], detail["gcodeUrl"]) == ("SLICING", None)


async def test_a_profile_is_chosen_from_the_shipped_set(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    body = {"modelId": model["id"], "profile": "no-such-profile"}
    status, answer = await call(client, "POST", "/api/slices", alice, body)
    assert (status, answer["status"], answer["data"]["code"]) == (400, "fail", "VALIDATION_ERROR")
    assert "profile" in answer["data"]["message"]
    assert await slices_of(sessionmaker, model["id"]) == []

    body["profile"] = "generic-petg-0.20mm"
    status, answer = await call(client, "POST", "/api/slices", alice, body)
    assert status == 201
    [job] = await slices_of(sessionmaker, model["id"])
    assert job.profile == "generic-petg-0.20mm"


async def test_one_slice_at_a_time_and_a_finished_one_is_replaced_with_its_files(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    storage = client.app[STORAGE]
    _, body = await call(client, "POST", "/api/slices", alice, {"modelId": model["id"]})
    first = body["data"]["sliceTaskId"]

    status, body = await call(client, "POST", "/api/slices", alice, {"modelId": model["id"]})
    assert (status, body["data"]["code"]) == (409, "INVALID_STATE")
    assert [job.id for job in await slices_of(sessionmaker, model["id"])] == [first]

    for ended in (JobStatus.COMPLETED, JobStatus.FAILED):
        await finish(sessionmaker, first, ended)
        gcode = slice_prefix(model["id"], first) + "model.gcode"
        await storage.put(gcode, b"G1 X1 Y1 E1\n", "text/x-gcode")
        status, body = await call(client, "POST", "/api/slices", alice, {"modelId": model["id"]})
        assert status == 201, body
        again = body["data"]["sliceTaskId"]
        assert again != first
        assert [job.id for job in await slices_of(sessionmaker, model["id"])] == [again]
        assert not await storage.exists(gcode)
        async with sessionmaker() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(FileDeletion)
                .where(FileDeletion.prefix == slice_prefix(model["id"], first))
            )
        assert pending == 1, "the sweep would remove a file written after the deletion"
        status, _ = await call(client, "GET", f"/api/slices/{first}", alice)
        assert status == 404
        first = again


async def test_a_double_click_starts_exactly_one_slice(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    answers = await asyncio.gather(
        *(call(client, "POST", "/api/slices", alice, {"modelId": model["id"]}) for _ in range(4))
    )
    assert sorted(status for status, _ in answers) == [201, 409, 409, 409]
    [job] = await slices_of(sessionmaker, model["id"])
    assert len(await events_for(sessionmaker, job.id)) == 1


async def test_slicing_another_users_private_model_answers_as_an_unknown_id(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    path = f"/api/models/{model['id']}/visibility"
    assert (await call(client, "PATCH", path, alice, {"visibility": "PRIVATE"}))[0] == 200
    private = await call(client, "POST", "/api/slices", bob, {"modelId": model["id"]})
    unknown = await call(client, "POST", "/api/slices", bob, {"modelId": new_id()})
    assert private == unknown
    assert private[0] == 404


async def test_only_the_owner_slices_and_reads_a_slice(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    status, body = await call(client, "POST", "/api/slices", bob, {"modelId": model["id"]})
    assert (status, body["data"]["code"]) == (403, "FORBIDDEN")
    _, body = await call(client, "POST", "/api/slices", alice, {"modelId": model["id"]})
    slice_id = body["data"]["sliceTaskId"]
    status, body = await call(client, "GET", f"/api/slices/{slice_id}", bob)
    assert (status, body["data"]["code"]) == (404, "NOT_FOUND")
    status, _ = await call(client, "POST", f"/api/tasks/{model['requestId']}/print", bob, {})
    assert status == 404


@pytest.mark.parametrize("model_id", [new_id(), "not-an-id", "0" * 26])
async def test_an_unknown_model_is_not_found(
    client: Client, alice: IssuedToken, model_id: str
) -> None:
    status, body = await call(client, "POST", "/api/slices", alice, {"modelId": model_id})
    assert (status, body["data"]["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize("body", [{}, {"modelId": 7}, {"modelId": ""}, {"modelId": None}])
async def test_a_bad_body_is_a_validation_error(
    client: Client, alice: IssuedToken, body: Any
) -> None:
    status, answer = await call(client, "POST", "/api/slices", alice, body)
    assert (status, answer["data"]["code"]) == (400, "VALIDATION_ERROR")


async def test_a_model_still_in_generation_cannot_be_sliced(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await requested_model(client, alice, sessionmaker)
    status, body = await call(client, "POST", "/api/slices", alice, {"modelId": model["id"]})
    assert (status, body["data"]["code"]) == (409, "INVALID_STATE")
    status, body = await call(client, "POST", f"/api/tasks/{model['requestId']}/print", alice, {})
    assert (status, body["data"]["code"]) == (409, "INVALID_STATE")
    assert await slices_of(sessionmaker, model["id"]) == []


async def test_print_slices_the_tasks_model(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    status, body = await call(client, "POST", f"/api/tasks/{model['requestId']}/print", alice, {})
    assert status == 200, body
    assert set(body["data"]) == {"sliceTaskId", "message"}
    [job] = await slices_of(sessionmaker, model["id"])
    assert job.id == body["data"]["sliceTaskId"]
    # already submitted: the slice is still running
    status, body = await call(client, "POST", f"/api/tasks/{model['requestId']}/print", alice)
    assert (status, body["data"]["code"]) == (409, "INVALID_STATE")


async def test_print_of_a_task_without_a_model_is_refused(
    client: Client, alice: IssuedToken
) -> None:
    created = await client.post("/api/tasks", json={"prompt": "a boat"}, headers=auth(alice))
    task = (await created.json())["data"]
    status, body = await call(client, "POST", f"/api/tasks/{task['id']}/print", alice, {})
    assert (status, body["data"]["code"]) == (409, "INVALID_STATE")
    status, body = await call(client, "POST", f"/api/tasks/{new_id()}/print", alice, {})
    assert (status, body["data"]["code"]) == (404, "NOT_FOUND")


async def test_deleting_the_model_deletes_its_slices(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    _, body = await call(client, "POST", "/api/slices", alice, {"modelId": model["id"]})
    await finish(sessionmaker, body["data"]["sliceTaskId"], JobStatus.COMPLETED)
    status, _ = await call(client, "DELETE", f"/api/models/{model['id']}", alice)
    assert status == 200
    assert await slices_of(sessionmaker, model["id"]) == []
    async with sessionmaker() as session:
        assert await session.get(Model, model["id"]) is None


async def poll(client: Client, token: IssuedToken, task_id: str, since: str) -> Any:
    """`GET /tasks/:id/status?since=`: None on 304, the task otherwise."""
    response = await client.get(
        f"/api/tasks/{task_id}/status", params={"since": since}, headers=auth(token)
    )
    if response.status == 304:
        return None
    assert response.status == 200, await response.text()
    return (await response.json())["data"]


@pytest.mark.parametrize("button", ["slice", "print"])
async def test_starting_a_slice_is_a_change_polling_sees(
    client: Client, alice: IssuedToken, sessionmaker: Sessions, button: str
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    task_id = model["requestId"]
    _, body = await call(client, "GET", f"/api/tasks/{task_id}", alice)
    before = body["data"]["updatedAt"]
    assert body["data"]["model"]["printStatus"] == "NOT_STARTED"
    assert await poll(client, alice, task_id, before) is None

    if button == "slice":
        status, _ = await call(client, "POST", "/api/slices", alice, {"modelId": model["id"]})
    else:
        status, _ = await call(client, "POST", f"/api/tasks/{task_id}/print", alice, {})
    assert status in (200, 201)

    task = await poll(client, alice, task_id, before)
    assert task is not None, "the task's model says SLICING now: a poll must not get 304"
    assert task["updatedAt"] > before
    assert (task["model"]["sliceStatus"], task["model"]["printStatus"]) == (
        "PROCESSING",
        "SLICING",
    )


@pytest.mark.parametrize("outcome", [JobStatus.COMPLETED, JobStatus.FAILED])
async def test_a_slices_outcome_is_a_change_polling_sees(
    client: Client, alice: IssuedToken, sessionmaker: Sessions, outcome: JobStatus
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    task_id = model["requestId"]
    _, body = await call(client, "POST", "/api/slices", alice, {"modelId": model["id"]})
    _, body = await call(client, "GET", f"/api/tasks/{task_id}", alice)
    before = body["data"]["updatedAt"]

    async with sessionmaker.begin() as session:  # as the slice worker's runtime records it
        [job] = await slices_of(sessionmaker, model["id"])
        job = await session.merge(job)
        if outcome is JobStatus.COMPLETED:
            files = SliceFiles("gcode-key", 12, None, {})
            await complete_slices(session, [(job, files)])
        else:
            await SliceJobs(lease=timedelta(seconds=30)).on_failed(session, job, "failed")

    task = await poll(client, alice, task_id, before)
    assert task is not None
    assert task["updatedAt"] > before
    expected = {JobStatus.COMPLETED: "SLICE_COMPLETE", JobStatus.FAILED: "FAILED"}[outcome]
    assert task["model"]["printStatus"] == expected
