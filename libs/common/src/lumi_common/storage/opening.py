"""`open_storage(settings)`: the backend STORAGE_URL names, ready to use (S3: bucket checked)."""

from __future__ import annotations

import contextlib
import os
import secrets

import structlog

from lumi_common.settings import DEFAULT_DATA_DIR, EXIT_CONFIG_ERROR, StorageSettings
from lumi_common.storage.local import LocalStorage
from lumi_common.storage.protocol import Storage, StorageError
from lumi_common.storage.s3 import S3Options, S3Storage
from lumi_common.storage.signing import FileSigner
from lumi_common.storage_url import LocalLocation

# where a development machine keeps its generated FILE_URL_SECRET (like cookie_secret)
LOCAL_SECRET_FILE = DEFAULT_DATA_DIR / "file_url_secret"

log = structlog.get_logger(__name__)


async def open_storage(settings: StorageSettings, *, files_url: str | None = None) -> Storage:
    """The storage of `settings`; close it with `aclose()`.

    `files_url` is where the API serves files (default: PUBLIC_BASE_URL + FILES_PATH_PREFIX);
    local storage signs URLs pointing there. A missing S3 bucket raises `MissingBucket`.
    """
    location = settings.storage_location
    if isinstance(location, LocalLocation):
        return LocalStorage(
            location.root,
            signer=file_signer(settings),
            files_url=files_url or settings.api_files_url,
        )
    secret = settings.s3_secret_access_key
    return await S3Storage.connect(
        S3Options(
            bucket=location.bucket,
            prefix=location.prefix,
            endpoint_url=settings.s3_endpoint_url,
            public_endpoint_url=settings.s3_public_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=None if secret is None else secret.get_secret_value(),
            force_path_style=settings.s3_force_path_style,
        )
    )


async def open_storage_or_exit(
    settings: StorageSettings, *, files_url: str | None = None
) -> Storage:
    """`open_storage` for a service starting up: a storage it cannot use (no bucket, no
    endpoint, refused credentials) is one clear log line and exit code 2, not a traceback."""
    if settings.storage_dir is not None:
        log.warning(
            "storage.storage_dir_deprecated",
            storage_dir=str(settings.storage_dir),
            fix=f"set STORAGE_URL={settings.storage_dir.resolve().as_uri()} instead",
        )
    try:
        storage = await open_storage(settings, files_url=files_url)
    except StorageError as error:
        log.error("storage.unavailable", location=str(settings.storage_location), error=str(error))
        raise SystemExit(EXIT_CONFIG_ERROR) from None
    log.info("storage.opened", location=str(settings.storage_location))
    return storage


def file_signer(settings: StorageSettings) -> FileSigner | None:
    """The signer of the API's file URLs: FILE_URL_SECRET, or outside production the secret
    generated once under ./.lumi/ (so every local process agrees on it)."""
    if settings.file_url_secret is not None:
        return FileSigner(settings.file_url_secret.get_secret_value())
    if settings.is_production:
        return None
    return FileSigner(local_file_url_secret())


def local_file_url_secret() -> str:
    if not LOCAL_SECRET_FILE.exists():
        LOCAL_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        draft = LOCAL_SECRET_FILE.with_name(f".{LOCAL_SECRET_FILE.name}.{os.getpid()}")
        draft.write_text(secrets.token_urlsafe(48) + "\n")
        draft.chmod(0o600)
        # link, not rename: of several processes starting at once exactly one secret wins
        with contextlib.suppress(FileExistsError):
            os.link(draft, LOCAL_SECRET_FILE)
        draft.unlink()
    return LOCAL_SECRET_FILE.read_text().strip()
