"""The name other people see for a user: the nickname they chose, else one derived from their
id — never anything from their e-mail address (its local part is often a real name)."""

from __future__ import annotations

DEFAULT_NAME_PREFIX = "lumi_"
# the random tail of a ULID: distinct between users, and says nothing about them
_ID_TAIL = 8


def default_name(user_id: str) -> str:
    return f"{DEFAULT_NAME_PREFIX}{user_id[-_ID_TAIL:].lower()}"


def public_name(*, user_id: str, nick_name: str | None) -> str:
    return nick_name or default_name(user_id)
