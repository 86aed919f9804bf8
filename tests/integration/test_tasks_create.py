"""`POST /api/tasks`: one transaction writes the task, 4 images, 4 jobs and 4 outbox events."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest
import structlog
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import texts
from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.settings import ApiSettings
from lumi_api.tasks.writer import TASK_WRITER
from lumi_common.db.tables import GeneratedImage, GenerationRequest, ImageJob, OutboxEvent
from lumi_common.i18n import http as common_texts
from lumi_common.messages import ImageJobRequested, decode
from lumi_common.streams.names import IMAGE_JOBS, stream_key
from lumi_common.streams.publish import DATA_FIELD
from tests.support.api import Client
from tests.support.language import problem, said

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_a_created_task_reaches_the_image_stream_at_once(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
    redis: Redis,
    key_prefix: str,
    empty_outbox: None,
) -> None:
    # a long poll interval: only the writer, publishing its events after its commit, can be
    # this quick
    settings = settings_factory(relay_enabled=True, relay_poll_seconds=30)
    client = await aiohttp_client(create_app(settings))
    status, body = await create(client, alice, {"prompt": "a paper kite"})
    assert status == 201
    key = stream_key(key_prefix, IMAGE_JOBS)
    for _ in range(100):
        if await redis.xlen(key) >= 4:
            break
        await asyncio.sleep(0.02)
    entries = await redis.xrange(key) or []
    messages = [decode(fields[DATA_FIELD]) for _, fields in entries if fields]
    assert len(messages) == 4
    assert {m.request_id for m in messages if isinstance(m, ImageJobRequested)} == {
        body["data"]["id"]
    }


async def create(client: Client, token: IssuedToken, body: Any) -> tuple[int, Any]:
    response = await client.post("/api/tasks", json=body, headers={"Authorization": token.header})
    return response.status, await response.json()


async def test_the_access_line_of_a_creation_names_the_task(
    client: Client, alice: IssuedToken
) -> None:
    with structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as logs:
        _, body = await create(client, alice, {"prompt": "a lantern"})
    [line] = [line for line in logs if line["event"] == "http.request.completed"]
    assert (line["path"], line["status"]) == ("/api/tasks", 201)
    assert line["task_id"] == body["data"]["id"]
    assert line["trace_id"]


async def test_create_answers_201_with_the_full_task(client: Client, alice: IssuedToken) -> None:
    status, body = await create(client, alice, {"prompt": "  一只戴帽子的小猫  "})
    assert status == 201
    assert body["status"] == "success"
    task = body["data"]
    assert task["externalUserId"] == alice.user_id
    assert task["originalPrompt"] == "一只戴帽子的小猫"
    assert (task["status"], task["phase"]) == ("IMAGE_PENDING", "IMAGE_GENERATION")
    assert task["selectedImageIndex"] is None
    assert task["completedAt"] is None
    assert task["errorMessage"] is None
    assert task["model"] is None
    assert ISO_MS.match(task["createdAt"])
    assert task["updatedAt"] == task["createdAt"]
    images = task["images"]
    assert [image["index"] for image in images] == [0, 1, 2, 3]
    assert {image["imageStatus"] for image in images} == {"PENDING"}
    assert {image["requestId"] for image in images} == {task["id"]}
    assert all(image["imageUrl"] is None for image in images)
    prompts = [image["imagePrompt"] for image in images]
    assert len(set(prompts)) == 4
    assert all("一只戴帽子的小猫" in prompt for prompt in prompts)
    assert set(images[0]) == {
        "id",
        "requestId",
        "index",
        "imageUrl",
        "imagePrompt",
        "imageStatus",
        "createdAt",
        "completedAt",
        "failedAt",
        "errorMessage",
    }


async def test_the_answer_to_create_is_what_reading_the_task_answers(
    client: Client, alice: IssuedToken
) -> None:
    # the creation answers from the values it wrote, without reading them back: they must agree
    _, created = await create(client, alice, {"prompt": "a lighthouse"})
    task_id = created["data"]["id"]
    response = await client.get(f"/api/tasks/{task_id}", headers={"Authorization": alice.header})
    assert (await response.json())["data"] == created["data"]


async def test_create_writes_jobs_and_decodable_outbox_events(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, body = await create(client, alice, {"prompt": "a lighthouse on a rock"})
    task_id = body["data"]["id"]
    await client.app[TASK_WRITER].published()  # beside the answer, not before it
    async with sessionmaker() as session:
        request = await session.get_one(GenerationRequest, task_id)
        jobs = (await session.scalars(select(ImageJob).where(ImageJob.request_id == task_id))).all()
        rows = await session.scalars(
            select(GeneratedImage).where(GeneratedImage.request_id == task_id)
        )
        image_rows = list(rows)
        images = {image.id: image.image_index for image in image_rows}
        prompts = {image.image_index: image.image_prompt for image in image_rows}
        job_ids = [job.id for job in jobs]
        events = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.key.in_(job_ids)))
        ).all()
    assert request.trace_id
    job_by_id = {job.id: job for job in jobs}
    assert len(jobs) == 4
    assert {job.status.value for job in jobs} == {"QUEUED"}
    assert sorted(images[job.image_id] for job in jobs) == [0, 1, 2, 3]
    assert len(events) == 4
    for event in events:
        assert event.stream == IMAGE_JOBS
        assert event.published_at is not None  # by the writer itself: this app runs no relay
        message = decode(event.payload)
        assert isinstance(message, ImageJobRequested)
        assert message.job_id == event.key
        assert message.request_id == task_id
        assert message.trace_id == request.trace_id
        assert message.attempt == 1
        # the worker needs neither the image row's index nor its prompt: the message carries them
        assert message.image_index == images[job_by_id[message.job_id].image_id]
        assert message.prompt == prompts[message.image_index]


@pytest.mark.parametrize("length", [1, 500])
async def test_prompt_length_boundaries_are_accepted(
    client: Client, alice: IssuedToken, length: int
) -> None:
    prompt = "长" * length
    status, body = await create(client, alice, {"prompt": f"\n {prompt} \t"})
    assert status == 201
    assert body["data"]["originalPrompt"] == prompt


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "x" * 501}, problem("prompt", texts.TEXT_TOO_LONG(max_length=500))),
        ({"prompt": "   "}, problem("prompt", texts.TEXT_EMPTY())),
        ({"prompt": ""}, problem("prompt", texts.TEXT_EMPTY())),
        ({}, problem("prompt", texts.FIELD_REQUIRED)),
        ({"prompt": 42}, problem("prompt", texts.NOT_A_STRING)),
        ({"prompt": None}, problem("prompt", texts.NOT_A_STRING)),
        ({"prompt": ["a"]}, problem("prompt", texts.NOT_A_STRING)),
    ],
)
async def test_invalid_prompt_is_a_400_naming_the_field(
    client: Client, alice: IssuedToken, body: Any, message: str
) -> None:
    assert await create(client, alice, body) == (
        400,
        {
            "status": "fail",
            "data": {
                "message": message,
                "code": "VALIDATION_ERROR",
                "details": {"errors": [{"field": "prompt", "reason": message.partition(": ")[2]}]},
            },
        },
    )


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"prompt"', b"null", b"\xff\xfe"])
async def test_a_body_that_is_not_a_json_object_is_invalid_json(
    client: Client, alice: IssuedToken, raw: bytes
) -> None:
    response = await client.post(
        "/api/tasks",
        data=raw,
        headers={"Authorization": alice.header, "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["data"]["code"] == "INVALID_JSON"


async def test_create_requires_a_token(client: Client) -> None:
    response = await client.post("/api/tasks", json={"prompt": "a cat"})
    assert response.status == 401


async def row_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        return {
            table.__tablename__: await session.scalar(select(func.count()).select_from(table)) or 0
            for table in (GenerationRequest, GeneratedImage, ImageJob, OutboxEvent)
        }


async def test_create_is_all_or_nothing_when_the_last_insert_fails(
    client: Client,
    sessionmaker: async_sessionmaker[AsyncSession],
    alice: IssuedToken,
    database_url: str,
) -> None:
    prompt = f"doomed {secrets.token_hex(8)}"
    trigger = f"outbox_boom_{secrets.token_hex(4)}"
    if database_url.startswith("mysql"):
        create_trigger = (
            f"CREATE TRIGGER {trigger} BEFORE INSERT ON outbox FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'"
        )
    else:
        create_trigger = (
            f"CREATE TRIGGER {trigger} BEFORE INSERT ON outbox "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    before = await row_counts(sessionmaker)
    async with sessionmaker.begin() as session:
        await session.execute(text(create_trigger))
    try:
        status, body = await create(client, alice, {"prompt": prompt})
    finally:
        async with sessionmaker.begin() as session:
            await session.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
    assert status == 500
    assert body == {
        "status": "error",
        "message": said(common_texts.INTERNAL_ERROR),
        "code": "INTERNAL_ERROR",
    }
    assert await row_counts(sessionmaker) == before
    async with sessionmaker() as session:
        mine = select(GenerationRequest.id).where(GenerationRequest.user_id == alice.user_id)
        assert (await session.scalars(mine)).all() == []
        leaked = select(func.count()).where(GeneratedImage.image_prompt.contains(prompt))
        assert await session.scalar(leaked) == 0
    # the same call succeeds once the outbox accepts rows again: the trigger was the only fault
    assert (await create(client, alice, {"prompt": prompt}))[0] == 201
