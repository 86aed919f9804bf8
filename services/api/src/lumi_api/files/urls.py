"""Absolute public URLs of stored files: both apps use them verbatim, without auth."""

from __future__ import annotations

from urllib.parse import quote

FILES_PATH = "/files/"


class FileUrls:
    def __init__(self, base_url: str) -> None:
        self._prefix = base_url.rstrip("/") + FILES_PATH

    def __call__(self, key: str | None) -> str | None:
        return None if not key else self._prefix + quote(key, safe="/")
