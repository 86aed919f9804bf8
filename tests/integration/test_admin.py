"""`/api/admin/…` on real MariaDB and Redis: administrators only; stream health with consumers
and the outbox backlog; dead letters listed with their payload, replayed (the job runs again)
and purged, each action audited; a task's jobs found by its id."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import IssuedToken
from lumi_api.routing import ROUTES
from lumi_common.db.tables import AdminAction, ImageJob
from lumi_common.messages import ImageJobRequested
from lumi_common.outbox.writer import add_event
from lumi_common.states import JobStatus
from lumi_common.streams.names import IMAGE_JOBS, group_name, stream_key
from lumi_common.time import utcnow
from tests.support.api import Client
from tests.support.factories import CreatedTask, create_task
from tests.support.pipeline import run_images

pytestmark = pytest.mark.usefixtures("empty_outbox")
Sessions = async_sessionmaker[AsyncSession]


def auth(token: IssuedToken) -> dict[str, str]:
    return {"Authorization": token.header}


async def data(response: Any, status: int = 200) -> Any:
    body = await response.json()
    assert response.status == status, body
    return body["data"]


async def dead_task(sessionmaker: Sessions, redis: Redis, prefix: str) -> CreatedTask:
    """A task whose two image jobs failed for good: two dead letters."""
    task = await create_task(sessionmaker, images=2)
    await run_images(sessionmaker, redis, prefix, fail=True, runs=Counter())
    return task


async def test_only_administrators_reach_the_admin_routes(
    client: Client, alice: IssuedToken, admin: IssuedToken
) -> None:
    specs = [s for s in client.app[ROUTES].specs if s.path.startswith("/admin/")]
    assert len(specs) >= 6
    for spec in specs:
        path = "/api" + spec.path.format(stream="image", task_id="01JAAAAAAAAAAAAAAAAAAAAAAA")
        anonymous = await client.request(spec.method, path, json={"all": True})
        assert anonymous.status == 401, path
        user = await client.request(spec.method, path, json={"all": True}, headers=auth(alice))
        body = await user.json()
        assert (user.status, body["data"]["code"]) == (403, "ADMIN_REQUIRED"), path
    ok = await client.get("/api/v1/admin/streams", headers=auth(admin))
    assert ok.status == 200
    document = await (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/admin/streams"]["get"]
    assert {"401", "403"} <= set(operation["responses"])
    assert operation["security"]


async def test_streams_show_lag_consumers_idle_time_dead_letters_and_backlog(
    client: Client, admin: IssuedToken, redis: Redis, key_prefix: str, sessionmaker: Sessions
) -> None:
    key = stream_key(key_prefix, IMAGE_JOBS)
    for n in range(4):
        await redis.xadd(key, {b"data": str(n).encode()})
    await redis.xgroup_create(key, group_name(IMAGE_JOBS), id="0")
    await redis.xreadgroup(group_name(IMAGE_JOBS), "worker-1", {key: ">"}, count=1)
    async with sessionmaker.begin() as session:
        message = ImageJobRequested(job_id="j", request_id="r")
        add_event(session, stream=IMAGE_JOBS, key="j", message=message)
        later = ImageJobRequested(job_id="k", request_id="r")
        add_event(
            session,
            stream=IMAGE_JOBS,
            key="k",
            message=later,
            available_at=utcnow() + timedelta(hours=1),
        )

    got = await data(await client.get("/api/admin/streams", headers=auth(admin)))
    image = next(s for s in got["streams"] if s["stream"] == IMAGE_JOBS)
    assert {k: image[k] for k in ("key", "length", "pending", "lag", "outboxDue")} == {
        "key": key,
        "length": 4,
        "pending": 1,
        "lag": 3,
        "outboxDue": 1,
    }
    [consumer] = image["consumers"]
    assert consumer["name"] == "worker-1"
    assert consumer["pending"] == 1
    assert 0 <= consumer["idleMs"] < 60_000
    assert image["replayable"] is True
    assert got["outbox"]["due"] == 1
    assert got["outbox"]["delayed"] == 1
    assert got["outbox"]["oldestDueAgeSeconds"] >= 0
    others = [s for s in got["streams"] if s["stream"] != IMAGE_JOBS]
    assert all(s["length"] == 0 and s["consumers"] == [] for s in others)


async def test_dead_letters_are_listed_replayed_and_purged_with_an_audit_trail(
    client: Client, admin: IssuedToken, redis: Redis, key_prefix: str, sessionmaker: Sessions
) -> None:
    task = await dead_task(sessionmaker, redis, key_prefix)
    listed = await data(await client.get("/api/admin/dead-letters/image", headers=auth(admin)))
    assert listed["total"] == 2
    by_job = {item["jobId"]: item for item in listed["items"]}
    assert set(by_job) == set(task.job_ids)
    first = by_job[task.job_ids[0]]
    assert first["error"] == "the image service refused the prompt"
    assert first["attempts"] >= 1
    assert first["reason"] == "permanent_error"
    assert first["payload"]["job_id"] == task.job_ids[0]

    found = await data(await client.get(f"/api/admin/tasks/{task.request_id}", headers=auth(admin)))
    letters = {job["id"]: job["deadLetters"] for job in found["jobs"]}
    assert letters[task.job_ids[0]] == [first["id"]]
    assert {job["status"] for job in found["jobs"]} == {"FAILED"}

    replayed = await data(
        await client.post(
            "/api/admin/dead-letters/image-jobs/replay",
            json={"ids": [first["id"]]},
            headers=auth(admin),
        )
    )
    assert replayed["replayed"] == 1
    assert replayed["results"] == [
        {"id": first["id"], "jobId": task.job_ids[0], "outcome": "requeued"}
    ]
    async with sessionmaker() as session:
        job = await session.get(ImageJob, task.job_ids[0])
    assert job is not None
    assert job.status is JobStatus.QUEUED
    runs: Counter[str] = Counter()
    await run_images(sessionmaker, redis, key_prefix, fail=False, runs=runs)
    assert runs == Counter({task.job_ids[0]: 1})

    purged = await data(
        await client.post(
            "/api/admin/dead-letters/image/purge", json={"all": True}, headers=auth(admin)
        )
    )
    assert (purged["total"], purged["removed"], purged["interrupted"]) == (1, 1, False)
    left = await data(await client.get("/api/admin/dead-letters/image", headers=auth(admin)))
    assert left == {"stream": IMAGE_JOBS, "total": 0, "items": []}

    actions = await data(await client.get("/api/admin/actions?limit=2", headers=auth(admin)))
    purge, replay = actions["items"]
    assert (purge["action"], purge["target"], purge["outcome"]["removed"]) == ("purge", "all", 1)
    assert replay["action"] == "replay"
    assert replay["target"] == {"ids": [first["id"]]}
    assert replay["outcome"]["counts"] == {"requeued": 1}
    assert {purge["userEmail"], replay["userEmail"]} == {admin_email(actions)}
    async with sessionmaker() as session:
        rows = await session.scalars(select(AdminAction).where(AdminAction.id == purge["id"]))
        assert rows.one().user_id is not None


def admin_email(actions: dict[str, Any]) -> str:
    emails = {str(item["userEmail"]) for item in actions["items"]}
    assert len(emails) == 1
    return emails.pop()


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/admin/dead-letters/image/replay", {"ids": ["1-0"], "all": True}, 400, None),
        ("/api/admin/dead-letters/image/replay", {}, 400, None),
        ("/api/admin/dead-letters/image/replay", {"ids": []}, 400, None),
        ("/api/admin/dead-letters/image/purge", {"ids": ["not-an-id"]}, 400, None),
        ("/api/admin/dead-letters/image/purge", {"ids": ["1-0"], "x": 1}, 400, None),
        ("/api/admin/dead-letters/nope/purge", {"all": True}, 404, "UNKNOWN_STREAM"),
    ],
)
async def test_bad_requests_fail_with_a_message_and_a_code(
    client: Client, admin: IssuedToken, path: str, body: Any, status: int, code: str | None
) -> None:
    response = await client.post(path, json=body, headers=auth(admin))
    answer = await response.json()
    assert response.status == status, answer
    assert answer["status"] == "fail"
    assert answer["data"]["message"]
    assert answer["data"]["code"] == (code or "VALIDATION_ERROR")


async def test_a_query_out_of_range_and_an_unknown_task_fail(
    client: Client, admin: IssuedToken
) -> None:
    response = await client.get("/api/admin/dead-letters/image?limit=0", headers=auth(admin))
    assert response.status == 400
    response = await client.get("/api/admin/tasks/01JAAAAAAAAAAAAAAAAAAAAAAA", headers=auth(admin))
    assert response.status == 404
