"""Every sentence a client reads, in the apps' two languages, from one typed catalogue.

A `Message` is a catalogue entry: a stable key and its zh-CN and en templates (named `{fields}`,
the same in both). A `Text` is a message with its values, rendered late, in the language of
whoever reads it: an API request's `Accept-Language` (`negotiate`, set by the API's middleware
with `use_locale`), else the configured default (`DEFAULT_LOCALE`, zh-CN as the apps expect).

What a worker records for a client to read later (a task's `errorMessage`) is stored as a
reference (`stored`), and rendered when it is read (`shown`): the reader's language, not the
worker's. Rows written before the catalogue hold plain sentences; they show as they are, or in
the reader's language when they are one of the catalogue's English sentences.

Error codes (`INVALID_CODE`, …) are the contract and never depend on the language.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, TypeAlias, TypeGuard, get_args

from lumi_common import jsonx

Locale = Literal["zh-CN", "en"]
LOCALES: Final[tuple[Locale, ...]] = get_args(Locale)
FALLBACK_LOCALE: Final[Locale] = "zh-CN"
# a stored reference: `msg:KEY` or `msg:KEY {"field": value}`
STORED_PREFIX: Final = "msg:"

Value: TypeAlias = "str | int | float | Text"

_catalogue: dict[str, Message] = {}
_by_english: dict[str, Message] = {}
_default: list[Locale] = [FALLBACK_LOCALE]
_locale: ContextVar[Locale | None] = ContextVar("lumi_locale", default=None)
# set when a request's answer said something in its reader's language (the API adds
# `Content-Language` and `Vary: Accept-Language` to that answer)
_rendered: ContextVar[bool] = ContextVar("lumi_locale_rendered", default=False)


@dataclass(frozen=True, slots=True)
class Message:
    """One catalogue entry. Created at import time: a duplicate key or templates naming
    different fields fail the import, so a broken catalogue never starts."""

    key: str
    zh: str
    en: str
    # a count in English: `en_one` is the en template when the field `count` is 1 ("1 task"),
    # `en` every other count ("0 tasks", "5 tasks"); Chinese has no plural (one template)
    en_one: str | None = None
    count: str | None = None

    def __post_init__(self) -> None:
        if self.key in _catalogue:
            raise ValueError(f"message key {self.key!r} is defined twice")
        if _fields(self.zh) != _fields(self.en):
            raise ValueError(f"message {self.key!r}: zh and en name different fields")
        if (self.en_one is None) != (self.count is None):
            raise ValueError(f"message {self.key!r}: en_one and count go together")
        if self.count is not None and self.count not in _fields(self.en):
            raise ValueError(f"message {self.key!r}: counts {self.count!r}, not one of its fields")
        if self.en_one is not None and _fields(self.en_one) != _fields(self.en):
            raise ValueError(f"message {self.key!r}: en_one and en name different fields")
        _catalogue[self.key] = self
        if not _fields(self.en):
            _by_english.setdefault(self.en, self)

    @property
    def fields(self) -> frozenset[str]:
        return _fields(self.en)

    def __call__(self, **values: Value) -> Text:
        if set(values) != self.fields:
            raise TypeError(
                f"message {self.key!r} takes {sorted(self.fields)}, got {sorted(values)}"
            )
        return Text(self, values)

    def template(self, locale: Locale, values: Mapping[str, Value] | None = None) -> str:
        """The template for `locale`; in English, the singular one when `values` count 1."""
        if locale == "zh-CN":
            return self.zh
        if self.en_one is not None and values is not None and _is_one(values.get(self.count or "")):
            return self.en_one
        return self.en

    def render(self, locale: Locale | None = None) -> str:
        return Text(self).render(locale)


@dataclass(frozen=True, slots=True)
class Text:
    """A message with its values; a value may itself be a `Text` (a duration), rendered in
    the same language."""

    message: Message
    values: Mapping[str, Value] = field(default_factory=dict)

    def render(self, locale: Locale | None = None) -> str:
        chosen = locale or current_locale()
        if locale is None:
            _rendered.set(True)
        values = {
            name: value.render(chosen) if isinstance(value, Text) else value
            for name, value in self.values.items()
        }
        return self.message.template(chosen, self.values).format_map(values)

    def __str__(self) -> str:
        """English, for logs and exception text (operators read English)."""
        return self.render("en")


class Renderable(Protocol):
    """A `Text`, or sentences made of several (`Joined`)."""

    def render(self, locale: Locale | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class Joined:
    """Several sentences as one (a validation failure's clause per field)."""

    parts: Sequence[Text]
    separator: Message

    def render(self, locale: Locale | None = None) -> str:
        chosen = locale or current_locale()
        return self.separator.template(chosen).join(part.render(locale) for part in self.parts)

    def __str__(self) -> str:
        return self.render("en")


def localized(value: Any) -> Any:
    """`value` with every `Text` or `Joined` in it rendered for the reader (JSON details)."""
    if isinstance(value, Text | Joined):
        return value.render()
    if isinstance(value, Mapping):
        return {key: localized(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [localized(item) for item in value]
    return value


class InvalidValue(ValueError):
    """A validator's refusal in catalogue words: pydantic keeps the exception in the error's
    context, where the API finds its sentence (a plain `ValueError` would be English)."""

    def __init__(self, text: Message | Text) -> None:
        self.text = as_text(text)
        super().__init__(str(self.text))


def as_text(message: Message | Text) -> Text:
    return message if isinstance(message, Text) else Text(message)


def as_renderable(message: Message | Renderable) -> Renderable:
    return Text(message) if isinstance(message, Message) else message


def catalogue() -> Mapping[str, Message]:
    """Every message defined so far (importing a package's catalogue module defines its own)."""
    return dict(_catalogue)


def is_locale(value: str) -> TypeGuard[Locale]:
    return value in LOCALES


def set_default_locale(locale: Locale) -> None:
    """The language of a reader who asks for none we have (from `DEFAULT_LOCALE`)."""
    _default[0] = locale


def default_locale() -> Locale:
    return _default[0]


def current_locale() -> Locale:
    return _locale.get() or _default[0]


@contextmanager
def use_locale(locale: Locale) -> Iterator[None]:
    token = _locale.set(locale)
    rendered = _rendered.set(False)
    try:
        yield
    finally:
        _rendered.reset(rendered)
        _locale.reset(token)


def rendered_for_reader() -> bool:
    """Whether something was rendered in the current reader's language since `use_locale`."""
    return _rendered.get()


def negotiate(accept_language: str | None, default: Locale | None = None) -> Locale:
    """The best of our languages for an `Accept-Language` header (RFC 9110 §12.5.4): by
    quality, then by order; any `zh` is zh-CN (the only Chinese we have), any `en` is en, `*`
    and an absent or unusable header are the default."""
    fallback = default or _default[0]
    if not accept_language:
        return fallback
    ranked: list[tuple[float, int, Locale]] = []
    for position, item in enumerate(accept_language.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        quality = _quality(params)
        language = _language(tag.strip().lower(), fallback)
        if quality > 0 and language is not None:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else fallback


def stored(text: Message | Text) -> str:
    """How a worker records a sentence for a client to read later (in the reader's language).
    A value that is itself a sentence (a reason) is kept as a reference too, so it is rendered
    in the reader's language with the rest."""
    text = as_text(text)
    key = STORED_PREFIX + text.message.key
    if not text.values:
        return key
    return f"{key} {jsonx.dumps_str(_stored_values(text))}"


def shown(value: str | None, locale: Locale | None = None) -> str | None:
    """A recorded sentence in the reader's language (or `locale`): a reference rendered, a
    catalogue sentence from before the catalogue translated, any other text as it is."""
    if value is None:
        return None
    text = parse_stored(value)
    return value if text is None else text.render(locale)


def parse_stored(value: str) -> Text | None:
    if value.startswith(STORED_PREFIX):
        key, _, raw = value.removeprefix(STORED_PREFIX).partition(" ")
        message = _catalogue.get(key)
        if message is None:
            return None
        try:
            values = jsonx.loads(raw) if raw else {}
        except ValueError:
            return None
        return _revived(message, values)
    message = _by_english.get(value)
    return None if message is None else Text(message)


# a value that is a sentence, in a stored reference: {"msg": KEY, "values": {...}}
_NESTED_KEY, _NESTED_VALUES = "msg", "values"


def _stored_values(text: Text) -> dict[str, Any]:
    def one(value: Value) -> Any:
        if not isinstance(value, Text):
            return value
        nested: dict[str, Any] = {_NESTED_KEY: value.message.key}
        if value.values:
            nested[_NESTED_VALUES] = _stored_values(value)
        return nested

    return {name: one(value) for name, value in text.values.items()}


def _revived(message: Message, values: object) -> Text | None:
    """The `Text` of a stored reference's values; None when they do not fit the catalogue."""
    if not isinstance(values, dict) or set(values) != message.fields:
        return None
    revived: dict[str, Value] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            nested = _catalogue.get(value.get(_NESTED_KEY) or "")
            text = None if nested is None else _revived(nested, value.get(_NESTED_VALUES, {}))
            if text is None:
                return None
            revived[name] = text
        elif isinstance(value, str | int | float):
            revived[name] = value
        else:
            return None
    return Text(message, revived)


def _is_one(count: Value | None) -> bool:
    """Whether a count reads as one in English ("1 task"); a stored count is text ("1")."""
    return isinstance(count, int | str) and not isinstance(count, bool) and str(count) == "1"


def _fields(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def _language(tag: str, fallback: Locale) -> Locale | None:
    if tag == "*":
        return fallback
    primary = tag.split("-", 1)[0]
    if primary == "zh":
        return "zh-CN"
    if primary == "en":
        return "en"
    return None
