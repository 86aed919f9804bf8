"""What kind of picture some bytes are, from their first bytes (never from a provider's headers)."""

from __future__ import annotations

_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def picture_type(data: bytes) -> str | None:
    """`image/png`, `image/jpeg`, `image/webp`, or None for anything else."""
    return next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)
