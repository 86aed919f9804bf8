"""The `Storage` contract, run against both backends: a local folder and an S3 bucket on a real
S3 server (moto's, over HTTP). What one backend does, the other must do too."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import FileDeletion
from lumi_common.settings import StorageSettings
from lumi_common.storage import (
    LocalStorage,
    MissingBucket,
    ObjectNotFound,
    S3Storage,
    Storage,
    StorageError,
    StoredFile,
    model_prefix,
    open_storage,
)
from lumi_common.storage.deletions import RECHECK_AFTER, FileSweeper, schedule
from lumi_common.storage.s3 import MULTIPART_THRESHOLD, OBJECT_CACHE_CONTROL, s3_client
from lumi_common.storage.signing import FileSigner, Signature
from lumi_common.time import utcnow
from tests.support.processes import free_port
from tests.support.s3 import S3Server

SECRET = "a-file-url-secret-of-at-least-32-characters"


@pytest_asyncio.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "local":
        yield LocalStorage(
            tmp_path / "store", signer=FileSigner(SECRET), files_url="http://api.test/files/"
        )
        return
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = await server.create_bucket()
    # a prefix, as deployments sharing a bucket use: every key lives below it
    s3 = await S3Storage.connect(server.options(bucket, prefix="lumi/"))
    yield s3
    await s3.aclose()


async def test_put_then_get_round_trips(storage: Storage) -> None:
    stored = await storage.put("images/r1/0.png", b"png bytes", "image/png")
    assert stored == StoredFile(key="images/r1/0.png", size=9)
    assert await storage.get("images/r1/0.png") == b"png bytes"
    assert await storage.exists("images/r1/0.png")


async def test_put_replaces(storage: Storage) -> None:
    await storage.put("a/b.obj", b"old", "text/plain")
    await storage.put("a/b.obj", b"new content", "text/plain")
    assert await storage.get("a/b.obj") == b"new content"


async def test_missing_files(storage: Storage) -> None:
    with pytest.raises(ObjectNotFound):
        await storage.get("images/none/0.png")
    assert not await storage.exists("images/none/0.png")
    assert await storage.open_path("images/none/0.png") is None
    await storage.delete("images/none/0.png")  # absent: a no-op, so retries are safe


async def test_delete(storage: Storage) -> None:
    await storage.put("x/y.png", b"1", "image/png")
    await storage.delete("x/y.png")
    assert not await storage.exists("x/y.png")
    with pytest.raises(ObjectNotFound):
        await storage.get("x/y.png")


async def test_delete_prefix_removes_only_that_folder(storage: Storage) -> None:
    prefix = model_prefix("m1")
    for name in ("model.obj", "material.mtl", "material.png", "slices/s1/model.gcode"):
        await storage.put(prefix + name, b"x", "text/plain")
    await storage.put("models/m10/model.obj", b"keep", "text/plain")
    assert await storage.delete_prefix(prefix) == 4
    assert not await storage.exists(prefix + "model.obj")
    assert not await storage.exists(prefix + "slices/s1/model.gcode")
    assert await storage.get("models/m10/model.obj") == b"keep"
    assert await storage.delete_prefix(prefix) == 0


@pytest.mark.parametrize(
    "key", ["", "/etc/passwd", "../outside.png", "images/../x.png", "images//0.png", "a/.hidden"]
)
async def test_unsafe_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="storage key"):
        await storage.put(key, b"x", "image/png")
    with pytest.raises(ValueError, match="storage key"):
        await storage.get(key)
    with pytest.raises(ValueError, match="storage key"):
        await storage.signed_url(key, expires_in=60)


@pytest.mark.parametrize("prefix", ["", "/", "models", "../", "models/../"])
async def test_unsafe_prefixes_are_refused(storage: Storage, prefix: str) -> None:
    with pytest.raises(ValueError, match="storage"):
        await storage.delete_prefix(prefix)


async def test_a_large_file_round_trips(storage: Storage) -> None:
    data = os.urandom(MULTIPART_THRESHOLD * 2 + 12345)  # three parts on S3
    stored = await storage.put("models/big/model.glb", data, "model/gltf-binary")
    assert stored.size == len(data)
    assert await storage.get("models/big/model.glb") == data


async def test_a_reader_never_sees_a_partial_file(storage: Storage) -> None:
    old, new = b"o" * 1000, os.urandom(MULTIPART_THRESHOLD + 1)
    await storage.put("models/m/model.glb", old, "model/gltf-binary")
    writing = asyncio.create_task(storage.put("models/m/model.glb", new, "model/gltf-binary"))
    seen = set()
    while not writing.done():
        seen.add(await storage.get("models/m/model.glb"))
    await writing
    seen.add(await storage.get("models/m/model.glb"))
    assert seen <= {old, new}
    assert new in seen


async def test_a_signed_url_opens_the_file_until_it_expires(storage: Storage) -> None:
    await storage.put("images/r1/0.png", b"png bytes", "image/png")
    url = await storage.signed_url("images/r1/0.png", expires_in=60)
    if isinstance(storage, LocalStorage):
        # served by the API, which checks it with the same secret (tests/integration/test_files)
        assert url.startswith("http://api.test/files/images/r1/0.png?exp=")
        signed = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
        signer = FileSigner(SECRET)
        assert signer.check("images/r1/0.png", signed["exp"], signed["sig"]) is Signature.VALID
        assert signer.check("images/r1/1.png", signed["exp"], signed["sig"]) is Signature.INVALID
        return
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert await response.read() == b"png bytes"
        assert response.headers["Content-Type"] == "image/png"
    # a SigV4 presigned GET valid 60 s; S3 itself refuses it afterwards (moto does not check
    # expiry, so that part is AWS's and MinIO's documented behaviour, not asserted here)
    presigned = parse_qs(urlsplit(url).query)
    assert presigned["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert presigned["X-Amz-Expires"] == ["60"]
    assert presigned["X-Amz-Signature"]


async def test_the_sweeper_deletes_a_folder(
    storage: Storage, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    prefix = model_prefix(f"sweep{os.urandom(4).hex()}")
    await storage.put(prefix + "model.obj", b"v", "text/plain")
    async with sessionmaker.begin() as session:
        # due at once (the real ones wait a while for straggling writes)
        schedule(session, [prefix], now=utcnow() - RECHECK_AFTER)
    await FileSweeper(sessionmaker, storage).sweep_once()
    assert not await storage.exists(prefix + "model.obj")
    async with sessionmaker() as session:
        left = await session.scalars(select(FileDeletion).where(FileDeletion.prefix == prefix))
        assert list(left) == []


# -- S3 only ---------------------------------------------------------------------------------


async def test_objects_carry_their_type_and_cache_policy(s3_server: S3Server) -> None:
    bucket = await s3_server.create_bucket()
    storage = await S3Storage.connect(s3_server.options(bucket, prefix="p/"))
    try:
        await storage.put("models/m/model.obj", b"v 0 0 0\n", "text/plain; charset=utf-8")
        await storage.put(
            "models/m/model.glb", os.urandom(MULTIPART_THRESHOLD + 1), "model/gltf-binary"
        )
    finally:
        await storage.aclose()
    async with s3_client(s3_server.options(bucket)) as client:
        small = await client.head_object(Bucket=bucket, Key="p/models/m/model.obj")
        large = await client.head_object(Bucket=bucket, Key="p/models/m/model.glb")
        uploads = await client.list_multipart_uploads(Bucket=bucket)
    assert small["ContentType"] == "text/plain; charset=utf-8"
    assert small["CacheControl"] == OBJECT_CACHE_CONTROL
    assert large["ContentType"] == "model/gltf-binary"
    assert large["CacheControl"] == OBJECT_CACHE_CONTROL
    assert uploads.get("Uploads", []) == []  # nothing left half-uploaded


async def test_a_missing_bucket_is_a_clear_error_at_start(s3_server: S3Server) -> None:
    settings = s3_server.settings("no-such-bucket-here")
    with pytest.raises(MissingBucket, match="'no-such-bucket-here' does not exist"):
        await open_storage(settings)


async def test_an_unreachable_server_is_a_storage_error(s3_server: S3Server) -> None:
    dead = dataclasses.replace(
        s3_server.options("any-bucket"),
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        max_attempts=2,
        connect_timeout=1.0,
    )
    with pytest.raises(StorageError, match="S3 check bucket"):
        await S3Storage.connect(dead)


async def test_open_storage_reads_storage_url(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = await s3_server.create_bucket()
    storage = await open_storage(s3_server.settings(bucket, "deploy/one"))
    try:
        assert isinstance(storage, S3Storage)
        await storage.put("images/r/0.png", b"x", "image/png")
    finally:
        await storage.aclose()
    async with s3_client(s3_server.options(bucket)) as client:
        listing = await client.list_objects_v2(Bucket=bucket)
    assert [item["Key"] for item in listing["Contents"]] == ["deploy/one/images/r/0.png"]
    local = await open_storage(StorageSettings(storage_url=(tmp_path / "files").as_uri()))
    assert isinstance(local, LocalStorage)
    assert local.root == (tmp_path / "files").resolve()


async def test_presigned_urls_name_the_public_endpoint(s3_server: S3Server) -> None:
    """Inside a compose network the bucket is http://objects:9000; a browser reaches it by
    another name. Presigned URLs are made for that one (and still work there)."""
    bucket = await s3_server.create_bucket()
    public = s3_server.endpoint_url.replace("127.0.0.1", "localhost")
    options = dataclasses.replace(s3_server.options(bucket), public_endpoint_url=public)
    storage = await S3Storage.connect(options)
    try:
        await storage.put("images/r/0.png", b"png", "image/png")
        url = await storage.signed_url("images/r/0.png", expires_in=60)
    finally:
        await storage.aclose()
    assert url.startswith(f"{public}/{bucket}/images/r/0.png?")
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert (response.status, await response.read()) == (200, b"png")
