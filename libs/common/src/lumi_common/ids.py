"""Sortable string ids: ULIDs (26 characters, time-ordered, no coordination needed)."""

from __future__ import annotations

from ulid import ULID

ID_LENGTH = 26


def new_id() -> str:
    return str(ULID())


def looks_like_id(value: str) -> bool:
    """Cheap shape check used to reject malformed ids before they reach a query."""
    if len(value) != ID_LENGTH:
        return False
    try:
        ULID.from_str(value)
    except ValueError:
        return False
    return True
