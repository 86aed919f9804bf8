"""Every client-facing sentence is in the catalogue in both languages (issue 16, point 5): no
English left in a Chinese template, no Chinese in an English one, and every error the API can
answer with carries a catalogue sentence and a code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TypeVar

import pytest

import lumi_api.app
import lumi_api.texts  # noqa: F401
import lumi_common.i18n.http
import lumi_common.i18n.jobs
import lumi_common.i18n.webhooks  # noqa: F401
from lumi_common.errors import AppError, JobError
from lumi_common.i18n import Message, catalogue
from tests.support.language import chinese, english_words

# the messages of this repository's packages (a test module may define its own)
MESSAGES = {key: message for key, message in catalogue().items() if not key.startswith("TEST_")}

E = TypeVar("E", bound=Exception)


def subclasses(cls: type[E]) -> Iterator[type[E]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def test_the_catalogue_is_loaded() -> None:
    assert len(MESSAGES) > 100
    for key in ("INVALID_JSON", "NOT_FOUND", "GENERATION_FAILED", "URL_PRIVATE", "CANCELLED"):
        assert key in MESSAGES


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_a_chinese_template_holds_no_english_words(key: str) -> None:
    assert english_words(MESSAGES[key].zh) == []


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_an_english_template_holds_no_chinese(key: str) -> None:
    assert chinese(MESSAGES[key].en) == []
    assert chinese(MESSAGES[key].en_one or "") == []


# "1 tasks", "1 items", "1 seconds": a plural noun after a count of one
ONE_AND_A_PLURAL = re.compile(r"\b1 [a-z]+s\b")


@pytest.mark.parametrize("key", sorted(MESSAGES))
@pytest.mark.parametrize("one", [1, "1"], ids=["int", "stored"])
def test_an_english_count_of_one_is_singular(key: str, one: int | str) -> None:
    message = MESSAGES[key]
    english = message(**dict.fromkeys(message.fields, one)).render("en")
    assert ONE_AND_A_PLURAL.findall(english) == []
    if message.en_one is not None:
        assert message.en_one != message.en
        assert message(**dict.fromkeys(message.fields, 2)).render("en") == message.en.format_map(
            dict.fromkeys(message.fields, 2)
        )


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_both_templates_are_filled_in(key: str) -> None:
    message = MESSAGES[key]
    assert message.zh
    assert message.en
    assert message.key == key
    if key not in {"FIELD_PROBLEM", "FIELD_PROBLEMS_JOIN"}:  # the same shape in both
        assert message.zh != message.en


def test_the_check_finds_english() -> None:
    assert english_words("生成失败 Generation failed") == ["Generation", "failed"]
    assert english_words("请在 {wait}后重试，见 Retry-After") == []
    assert english_words("文件 x 不存在") == []  # one letter is not a word
    assert english_words("字段 prompt 无效", allowed={"prompt"}) == []
    assert english_words("字段 prompts 无效", allowed={"prompt"}) == ["prompts"]
    assert chinese("Task not found") == []
    assert chinese("Task 不存在") == ["不", "存", "在"]


# errors whose default names values: every place that raises one passes its sentence
RAISED_WITH_VALUES = {"UnknownStream"}
ERRORS = sorted(subclasses(AppError), key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


@pytest.mark.parametrize(
    "error", ERRORS, ids=[f"{cls.__module__}.{cls.__qualname__}" for cls in ERRORS]
)
def test_every_api_error_has_a_code_and_a_catalogue_sentence(error: type[AppError]) -> None:
    assert error.code
    assert error.code == error.code.upper()
    assert 400 <= error.status < 600
    message = error.default_message
    assert isinstance(message, Message)
    assert MESSAGES.get(message.key) is message
    if error.__name__ not in RAISED_WITH_VALUES:
        assert not message.fields  # raised without a sentence, the default must render alone


def test_every_error_the_api_defines_is_walked() -> None:
    names = {cls.__name__ for cls in ERRORS}
    # a few from each corner of the API: the walk sees classes defined outside lumi_common
    assert {"InvalidJson", "InvalidCode", "TaskNotFound", "UrlNotAllowed", "QuotaExceeded"} <= names
    assert len(ERRORS) > 50


def test_every_job_failure_shown_to_a_client_is_a_catalogue_sentence() -> None:
    for error in subclasses(JobError):
        message = error.client_message
        if message is not None:
            assert isinstance(message, Message), error
            assert MESSAGES.get(message.key) is message, error
