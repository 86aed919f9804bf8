"""`Storage` on an S3-compatible bucket (AWS S3, MinIO, Ceph, moto, …) through aiobotocore.

botocore does what we would otherwise write: request signing, a connection pool per client,
connect/read timeouts, and retries with exponential backoff and jitter (its "standard" mode
retries throttling, 5xx and connection errors). We add the key prefix, multipart uploads of
large files, the headers every object carries, and the mapping of errors to ours.

No partial object is ever visible: S3 shows an object only once its PUT, or its multipart
upload's completion, has succeeded; a failed multipart upload is aborted so its parts go too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from lumi_common.storage.keys import check_key, check_prefix
from lumi_common.storage.protocol import ObjectNotFound, StorageError, StoredFile

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

# files above this go up in parts (S3's minimum part size is 5 MiB); model files reach tens of MB
MULTIPART_THRESHOLD = 8 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
# objects never change under a key (a new result gets a new key); `private` keeps shared caches
# (CDNs, proxies) from keeping a copy of a file whose model may later turn private
OBJECT_CACHE_CONTROL = "private, max-age=31536000, immutable"
DELETE_BATCH = 1000  # DeleteObjects' limit
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
_NO_BUCKET = frozenset({"NoSuchBucket"})

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class S3Options:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    # the endpoint as clients outside reach it, for presigned URLs (a compose network's
    # http://objects:9000 is http://localhost:9000 to a browser); None: endpoint_url
    public_endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    force_path_style: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_attempts: int = 5  # botocore's total attempts, the first one included
    max_connections: int = 32


class MissingBucket(StorageError):
    """The bucket does not exist (or these credentials cannot see it)."""


class S3Storage:
    """Keys are stored as `<prefix><key>` in one bucket; build it with `S3Storage.connect`."""

    def __init__(
        self,
        client: S3Client,
        options: S3Options,
        exits: AsyncExitStack,
        *,
        presigner: S3Client | None = None,
    ) -> None:
        self._client = client
        self._presigner = presigner or client  # presigning is local: it never calls out
        self._options = options
        self._exits = exits

    @classmethod
    async def connect(cls, options: S3Options) -> S3Storage:
        """A client with its pool, after checking the bucket exists: a clear start-up error
        instead of every upload failing later."""
        exits = AsyncExitStack()
        client = await exits.enter_async_context(s3_client(options))
        presigner = None
        if options.public_endpoint_url:
            public = dataclasses.replace(options, endpoint_url=options.public_endpoint_url)
            presigner = await exits.enter_async_context(s3_client(public))
        storage = cls(client, options, exits, presigner=presigner)
        try:
            await storage.check_bucket()
        except BaseException:
            await exits.aclose()
            raise
        return storage

    @property
    def bucket(self) -> str:
        return self._options.bucket

    async def check_bucket(self) -> None:
        with self._errors("check bucket"):
            try:
                await self._client.head_bucket(Bucket=self.bucket)
            except ClientError as error:
                if _code(error) in _NOT_FOUND | _NO_BUCKET:
                    raise MissingBucket(
                        f"S3 bucket {self.bucket!r} does not exist at "
                        f"{self._options.endpoint_url or 'AWS'}: create it, or fix STORAGE_URL"
                    ) from None
                raise

    async def put(self, key: str, data: bytes, content_type: str) -> StoredFile:
        name = self._name(key)
        with self._errors("put", key):
            if len(data) > MULTIPART_THRESHOLD:
                await self._put_in_parts(name, data, content_type)
            else:
                await self._client.put_object(
                    Bucket=self.bucket,
                    Key=name,
                    Body=data,
                    ContentType=content_type,
                    CacheControl=OBJECT_CACHE_CONTROL,
                )
        return StoredFile(key=key, size=len(data))

    async def get(self, key: str) -> bytes:
        with self._errors("get", key):
            try:
                response = await self._client.get_object(Bucket=self.bucket, Key=self._name(key))
            except ClientError as error:
                if _code(error) in _NOT_FOUND:
                    raise ObjectNotFound(key) from None
                raise
            async with response["Body"] as body:
                return await body.read()

    async def open_path(self, key: str) -> None:
        self._name(key)  # the same refusal of unsafe keys as the local store
        return  # never on this machine's disk

    async def exists(self, key: str) -> bool:
        with self._errors("exists", key):
            try:
                await self._client.head_object(Bucket=self.bucket, Key=self._name(key))
            except ClientError as error:
                if _code(error) in _NOT_FOUND:
                    return False
                raise
        return True

    async def delete(self, key: str) -> None:
        # S3 answers 204 for an absent key too: retries are safe
        with self._errors("delete", key):
            await self._client.delete_object(Bucket=self.bucket, Key=self._name(key))

    async def delete_prefix(self, prefix: str) -> int:
        folder = self._options.prefix + check_prefix(prefix)
        removed = 0
        with self._errors("delete prefix", prefix):
            paginator = self._client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=folder):
                names = [item["Key"] for item in page.get("Contents", []) if "Key" in item]
                for batch in _batches(names, DELETE_BATCH):
                    await self._delete_batch(batch)
                    removed += len(batch)
        return removed

    async def signed_url(self, key: str, *, expires_in: float) -> str:
        with self._errors("sign", key):
            return await self._presigner.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._name(key)},
                ExpiresIn=max(1, int(expires_in)),
            )

    async def aclose(self) -> None:
        await self._exits.aclose()

    async def _put_in_parts(self, name: str, data: bytes, content_type: str) -> None:
        upload = await self._client.create_multipart_upload(
            Bucket=self.bucket,
            Key=name,
            ContentType=content_type,
            CacheControl=OBJECT_CACHE_CONTROL,
        )
        upload_id = upload["UploadId"]
        try:
            parts: list[CompletedPartTypeDef] = []
            for number, start in enumerate(range(0, len(data), PART_SIZE), start=1):
                part = await self._client.upload_part(
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data[start : start + PART_SIZE],
                )
                parts.append({"PartNumber": number, "ETag": part["ETag"]})
            await self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            # the parts are invisible but billed until aborted; a failed abort is left to the
            # bucket's lifecycle rule for incomplete uploads (docs/operations.md)
            try:
                await self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=name, UploadId=upload_id
                )
            except (ClientError, BotoCoreError) as error:
                log.warning("storage.s3.abort_failed", key=name, error=repr(error))
            raise

    async def _delete_batch(self, names: list[str]) -> None:
        response = await self._client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": name} for name in names], "Quiet": True},
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise StorageError(
                f"S3 refused to delete {len(errors)} objects, e.g. {first.get('Key')!r}: "
                f"{first.get('Code')} {first.get('Message')}"
            )

    def _name(self, key: str) -> str:
        return self._options.prefix + check_key(key)

    def _errors(self, operation: str, key: str | None = None) -> _ErrorScope:
        return _ErrorScope(operation, key, self.bucket)


class _ErrorScope:
    """Turns botocore's failures (after its own retries) into `StorageError`."""

    def __init__(self, operation: str, key: str | None, bucket: str) -> None:
        self.operation, self.key, self.bucket = operation, key, bucket

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, _: object) -> None:
        if isinstance(error, ClientError):
            if _code(error) in _NO_BUCKET:
                raise MissingBucket(f"S3 bucket {self.bucket!r} does not exist") from error
            raise StorageError(self._describe(f"{_code(error)}: {error}")) from error
        if isinstance(error, BotoCoreError):
            raise StorageError(self._describe(str(error))) from error

    def _describe(self, reason: str) -> str:
        what = f"{self.operation} {self.key!r}" if self.key else self.operation
        return f"S3 {what} in bucket {self.bucket!r} failed: {reason}"


@asynccontextmanager
async def s3_client(options: S3Options) -> AsyncIterator[S3Client]:
    config = AioConfig(
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        retries={"max_attempts": options.max_attempts, "mode": "standard"},
        max_pool_connections=options.max_connections,
        s3={"addressing_style": "path" if options.force_path_style else "auto"},
        signature_version="s3v4",
    )
    session = get_session()
    async with session.create_client(
        "s3",
        region_name=options.region,
        endpoint_url=options.endpoint_url,
        aws_access_key_id=options.access_key_id,
        aws_secret_access_key=options.secret_access_key,
        config=config,
    ) as client:
        yield client


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
