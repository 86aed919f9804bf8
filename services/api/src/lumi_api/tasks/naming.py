"""A model's default name: the prompt, cut to what fits a gallery card."""

from __future__ import annotations

import unicodedata

MAX_NAME_WIDTH = 30
ELLIPSIS = "..."


def char_width(char: str) -> int:
    """2 for wide characters (CJK ideographs, kana, hangul, full-width forms), else 1."""
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def model_name(prompt: str, *, max_width: int = MAX_NAME_WIDTH) -> str:
    text = " ".join(prompt.split())
    width = 0
    for position, char in enumerate(text):
        width += char_width(char)
        if width > max_width:
            return text[:position].rstrip() + ELLIPSIS
    return text
