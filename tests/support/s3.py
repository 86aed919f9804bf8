"""A real S3 server for tests: moto's standalone server (`moto_server`), one per test session.

It speaks the S3 REST protocol over HTTP, so aiobotocore talks to it exactly as to AWS or MinIO
(SigV4, multipart, presigned URLs). Each test gets its own bucket.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lumi_common.settings import StorageSettings
from lumi_common.storage.s3 import S3Options, s3_client
from tests.support.processes import free_port, script, wait_for_http

ACCESS_KEY = "lumi-test-key"
SECRET_KEY = "lumi-test-secret"  # moto accepts any credentials; SigV4 is still computed
REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class S3Server:
    endpoint_url: str

    def options(self, bucket: str, prefix: str = "") -> S3Options:
        return S3Options(
            bucket=bucket,
            prefix=prefix,
            endpoint_url=self.endpoint_url,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            force_path_style=True,
        )

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The services' settings for this bucket, as environment variables."""
        return {
            "STORAGE_URL": f"s3://{bucket}/{prefix}",
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_REGION": REGION,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "S3_FORCE_PATH_STYLE": "true",
        }

    def settings(self, bucket: str, prefix: str = "") -> StorageSettings:
        return StorageSettings.model_validate(
            {name.lower(): value for name, value in self.env(bucket, prefix).items()}
        )

    async def create_bucket(self, name: str | None = None) -> str:
        bucket = name or f"lumi-test-{secrets.token_hex(6)}"
        async with s3_client(self.options(bucket)) as client:
            await client.create_bucket(Bucket=bucket)
        return bucket


@contextmanager
def moto_s3(log_dir: Path) -> Iterator[S3Server]:
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "moto.log").open("ab") as log:
        process = subprocess.Popen(
            [script("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_for_http(f"{endpoint}/moto-api/", timeout=30)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
