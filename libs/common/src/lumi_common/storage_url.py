"""`STORAGE_URL`: `file:///path` (a local folder) or `s3://bucket/prefix` (an S3-compatible bucket).

Parsed once at start-up, so a typo is a configuration error rather than a failed first upload.
Kept apart from `lumi_common.storage` so that reading settings never imports an S3 client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_STORAGE_DIR = Path(".lumi") / "storage"
# S3's rules: 3–63 of lower-case letters, digits, dots and hyphens, starting and ending with a
# letter or digit (dots allowed: some S3-compatible servers use them)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class LocalLocation:
    root: Path

    def __str__(self) -> str:
        return self.root.resolve().as_uri()


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ends with "/": prepended to every key

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


StorageLocation = LocalLocation | S3Location


def parse_storage_url(url: str) -> StorageLocation:
    """`file:///srv/lumi`, `file:relative/dir`, `s3://bucket` or `s3://bucket/some/prefix`."""
    scheme, sep, _ = url.partition(":")
    if scheme.lower() == "file" and sep:
        return LocalLocation(_file_path(url))
    if scheme.lower() == "s3" and url[3:5] == "//":
        return _s3_location(url)
    raise ValueError("must be a file:///path or s3://bucket/prefix URL")


def _file_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError("a file:// URL names a local folder: file:///path (no host)")
    if parts.query or parts.fragment:
        raise ValueError("a file:// URL has no query or fragment")
    path = unquote(parts.path)
    if not path:
        raise ValueError("a file:// URL needs a path: file:///srv/lumi/storage")
    return Path(path)


def _s3_location(url: str) -> S3Location:
    parts = urlsplit(url)
    bucket = parts.netloc
    if not _BUCKET.match(bucket):
        raise ValueError(f"not an S3 bucket name: {bucket!r} (3–63 of a-z, 0-9, '.', '-')")
    if parts.query or parts.fragment:
        raise ValueError("an s3:// URL has no query or fragment")
    segments = [segment for segment in parts.path.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise ValueError("an s3:// prefix cannot contain '.' or '..'")
    prefix = "".join(f"{segment}/" for segment in segments)
    return S3Location(bucket=bucket, prefix=prefix)
