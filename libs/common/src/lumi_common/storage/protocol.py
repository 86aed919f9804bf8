"""The storage seam: every service reads and writes files through `Storage`, never paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    size: int


class ObjectNotFound(LookupError):
    """No file is stored under the key."""


class StorageError(OSError):
    """The storage could not do it (unreachable, refused, timed out after its retries).

    An `OSError`, like a local disk's failures, so callers handle both backends alike."""


class SigningUnavailable(RuntimeError):
    """This storage cannot sign URLs (a local store without FILE_URL_SECRET)."""


class Storage(Protocol):
    """Files addressed by `/`-separated keys such as `images/<request>/0.png`.

    Keys are checked by `lumi_common.storage.keys`; a key that could escape the store is a
    `ValueError` in every implementation.
    """

    async def put(self, key: str, data: bytes, content_type: str) -> StoredFile:
        """Store `data` under `key`, replacing what was there; readers never see a partial file."""
        ...

    async def get(self, key: str) -> bytes:
        """The stored bytes, or `ObjectNotFound`."""
        ...

    async def open_path(self, key: str) -> Path | None:
        """A local file to serve directly, or None when absent or not on this machine's disk."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the file; deleting an absent key is not an error, so retries are safe."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every file under `prefix` (which ends with `/`); returns how many were removed."""
        ...

    async def signed_url(self, key: str, *, expires_in: float) -> str:
        """A URL anyone holding it can GET the file with for `expires_in` seconds, no longer:
        an S3 presigned GET, or the API's `/files/<key>?exp=…&sig=…` on a local store."""
        ...

    async def aclose(self) -> None:
        """Release connections; the storage is not used afterwards."""
        ...
