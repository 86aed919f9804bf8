"""`Storage` on a local directory: the default of `make run` and of single-machine deployments."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from lumi_common.storage.keys import check_key, check_prefix
from lumi_common.storage.protocol import ObjectNotFound, SigningUnavailable, StoredFile
from lumi_common.storage.signing import FileSigner


class LocalStorage:
    """Files under `root`, written atomically; blocking file I/O runs in a thread.

    Signed URLs point at the API, which serves the folder: `files_url` is its public
    `…/files/` address and `signer` holds FILE_URL_SECRET (the API checks with the same).
    """

    def __init__(
        self, root: Path, *, signer: FileSigner | None = None, files_url: str | None = None
    ) -> None:
        self._root = root.resolve()
        self._signer = signer
        self._files_url = files_url

    @property
    def root(self) -> Path:
        return self._root

    async def put(self, key: str, data: bytes, content_type: str) -> StoredFile:
        # The content type is not recorded: a local file is served with the type of its
        # extension (`content_type_for`), which is what the key layout guarantees anyway.
        path = self._path(key)
        await asyncio.to_thread(write_atomically, path, data)
        return StoredFile(key=key, size=len(data))

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
            raise ObjectNotFound(key) from error

    async def open_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if await asyncio.to_thread(path.is_file) else None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def delete_prefix(self, prefix: str) -> int:
        folder = self._path(check_prefix(prefix)[:-1])
        return await asyncio.to_thread(_remove_tree, folder)

    async def signed_url(self, key: str, *, expires_in: float) -> str:
        if self._signer is None or self._files_url is None:
            raise SigningUnavailable("local storage signs URLs only with FILE_URL_SECRET set")
        return self._signer.url(self._files_url, check_key(key), expires_in=expires_in)

    async def aclose(self) -> None:
        return None

    def _path(self, key: str) -> Path:
        path = self._root / check_key(key)
        # the key rules already forbid climbing out; this also catches a symlink pointing out
        if not path.resolve().is_relative_to(self._root):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same directory, so a reader or a crash sees either
    the old file or the whole new one, never a partial write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # makes the rename itself durable: without it a power cut can lose a completed write
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    count = sum(1 for path in folder.rglob("*") if path.is_file())
    shutil.rmtree(folder)
    return count
