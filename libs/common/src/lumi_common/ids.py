"""Sortable string ids: ULIDs (26 characters, time-ordered, no coordination needed)."""

from __future__ import annotations

from ulid import ULID

ID_LENGTH = 26


def new_id() -> str:
    return str(ULID())


def looks_like_id(value: str) -> bool:
    """Cheap shape check used to reject malformed ids before they reach a query."""
    return canonical_id(value) is not None


def canonical_id(value: str) -> str | None:
    """The id as we write it (upper-case Crockford base32), or None if `value` is not a ULID.

    Parsing accepts lower case, which MariaDB's `_ci` collation then matches to the row: an id
    taken from a client must be this canonical form before it is compared, stored or used to
    name files, or two spellings of one id reach one row under two names.
    """
    if len(value) != ID_LENGTH:
        return None
    try:
        return str(ULID.from_str(value))
    except ValueError:
        return None
