"""The whole pipeline once with `STORAGE_URL=s3://…`: API, image worker and model worker as real
processes sharing no directory, only a bucket on a real S3 server (moto's, over HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from lumi_common.storage.s3 import s3_client
from tests.e2e import test_pipeline as local_pipeline
from tests.support.api import unique_email
from tests.support.lumi_client import LumiClient
from tests.support.s3 import S3Server
from tests.support.services import Services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
PREFIX = "e2e/"


@pytest_asyncio.fixture
async def bucket(services: Services, s3_server: S3Server) -> str:
    """Every process of this test stores its files in this bucket, under PREFIX."""
    name = await s3_server.create_bucket()
    services.env.pop("STORAGE_DIR", None)
    services.env.update(s3_server.env(name, PREFIX))
    return name


@pytest_asyncio.fixture
async def client(services: Services, bucket: str) -> AsyncIterator[LumiClient]:
    """The API on the bucket (the conftest's client, started after the bucket is set)."""
    await services.start_api()
    token = await services.token(unique_email("e2e-s3"))
    async with aiohttp.ClientSession() as session:
        yield LumiClient(session, services.base_url, token)


@pytest.mark.timeout(300)  # three processes and an S3 server on a busy machine
async def test_the_pipeline_on_s3_shares_no_directory(
    services: Services, client: LumiClient, s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    happy_path = local_pipeline.test_a_prompt_becomes_four_images_then_a_printable_model
    await happy_path(services, client, tmp_path)
    assert not (tmp_path / "storage").exists()  # no process wrote a local file
    async with s3_client(s3_server.options(bucket)) as s3:
        listing = await s3.list_objects_v2(Bucket=bucket)
    keys = sorted(item["Key"] for item in listing.get("Contents", []))
    assert all(key.startswith(PREFIX) for key in keys), keys
    kinds = {key.removeprefix(PREFIX).split("/")[0] for key in keys}
    assert kinds == {"images", "models", "work"}, keys  # work: the offline 3D provider's picture
    assert sum(key.endswith(".png") and "/images/" in f"/{key}" for key in keys) == 4
    for name in ("model.obj", "material.mtl", "material.png", "model.glb", "model.stl"):
        assert any(key.endswith(f"/{name}") for key in keys), name


async def test_a_missing_bucket_stops_every_service_with_one_clear_line(
    services: Services, s3_server: S3Server
) -> None:
    services.env.pop("STORAGE_DIR", None)
    services.env.update(s3_server.env("no-such-bucket"))
    for name in ("lumi-api", "lumi-image-worker", "lumi-model-worker"):
        process = services.spawn(name)
        assert process.process is not None
        assert process.process.wait(60) == 2, process.tail()
        errors = [e for e in process.events() if e.get("event") == "storage.unavailable"]
        assert len(errors) == 1, process.tail()
        assert "'no-such-bucket' does not exist" in errors[0]["error"]
