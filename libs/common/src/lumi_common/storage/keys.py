"""The key layout of stored files, and the rules that keep a key inside the store.

A key is relative and `/`-separated. Its segments are never empty, never `.` or `..`, never start
with a dot (temporary files of atomic writes do), and hold no backslash, NUL or control character,
so that one key names one file on every backend and cannot climb out of a local root.
"""

from __future__ import annotations

_FORBIDDEN_CHARS = frozenset("\\\x7f") | frozenset(chr(code) for code in range(32))


def image_key(request_id: str, index: int) -> str:
    if index < 0:
        raise ValueError("image index must not be negative")
    return check_key(f"images/{_segment(request_id)}/{index}.png")


def images_prefix(request_id: str) -> str:
    return check_prefix(f"images/{_segment(request_id)}/")


def model_prefix(model_id: str) -> str:
    return check_prefix(f"models/{_segment(model_id)}/")


def slice_prefix(model_id: str, slice_id: str) -> str:
    """A slice's G-code and thumbnail, inside its model's folder: they go with the model."""
    return check_prefix(f"{model_prefix(model_id)}slices/{_segment(slice_id)}/")


def check_key(key: str) -> str:
    """Return `key` unchanged when it is safe, else raise ValueError."""
    if not key or key.startswith("/"):
        raise ValueError("a storage key must be a non-empty relative path")
    for segment in key.split("/"):
        _segment(segment)
    return key


def check_prefix(prefix: str) -> str:
    """A prefix is a safe key followed by `/`: it names a folder, never part of a file name."""
    if not prefix.endswith("/"):
        raise ValueError("a storage prefix must end with '/'")
    check_key(prefix[:-1])
    return prefix


def _segment(value: str) -> str:
    if not value or value.startswith(".") or not _FORBIDDEN_CHARS.isdisjoint(value):
        raise ValueError(f"unsafe storage key segment: {value!r}")
    if "/" in value:
        raise ValueError(f"a storage key segment cannot contain '/': {value!r}")
    return value
