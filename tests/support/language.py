"""What a client reads, in the language a test names, taken from the catalogue (the tests do
not copy the sentences; the apps' contract tests pin the few they depend on)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from lumi_api import texts
from lumi_common.i18n import Locale, Message, Text, as_text


def said(message: Message | Text, locale: Locale = "zh-CN") -> str:
    """A catalogue sentence as a reader of `locale` gets it (zh-CN: the API's default)."""
    return as_text(message).render(locale)


def problem(field: str, reason: Message | Text, locale: Locale = "zh-CN") -> str:
    """One clause of a validation failure: `prompt: 最多 500 个字符`."""
    return texts.FIELD_PROBLEM(field=field, reason=as_text(reason)).render(locale)


# names a Chinese sentence keeps as they are: the product, standards, header and method names,
# the API's own field names and JSON values (the client types them as written)
NAMES = frozenset(
    {
        "Lumi",
        "URL",
        "JSON",
        "ISO",
        "UUID",
        "ASCII",
        "Redis",
        "Retry-After",
        "Idempotency-Key",
        "Content-Type",
        "Cookie",
        "POST",
        "application/json",
        "offset",
        "page",
        "ids",
        "all",
        "true",
        "updatedAt",
        "http",
        "https",
    }
)
_FIELD = re.compile(r"\{[^{}]*\}")
# a date-time written as an example (`2026-02-04T12:00:00.000Z`)
_EXAMPLE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z")
# a word: Latin letters, with the joins a header or media type name has
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-/][A-Za-z0-9]+)*")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def english_words(text: str, *, allowed: Iterable[str] = ()) -> list[str]:
    """The English left in a Chinese sentence: every run of two or more Latin letters that is
    not one of the names (`NAMES`, `allowed`: a request's own field names and values)."""
    names = NAMES | set(allowed)
    text = _EXAMPLE_TIME.sub(" ", _FIELD.sub(" ", text))
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", " ", text)
    return [word for word in _WORD.findall(text) if sum(c.isalpha() for c in word) >= 2]


def chinese(text: str) -> list[str]:
    """The Chinese characters (and full-width punctuation) in an English sentence."""
    return _CJK.findall(text)
