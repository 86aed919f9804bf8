from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from lumi_api import texts
from lumi_api.auth.schemas import SendCodeBody
from lumi_api.body import validation_failed
from lumi_api.tasks.routes import parse_since
from lumi_api.tasks.schemas import CreateTaskBody, RetryBody, SelectImageBody, TaskListQuery
from lumi_common.errors import ValidationFailed
from lumi_common.i18n import Locale


def message_for(model: type[Any], data: dict[str, Any], locale: Locale = "en") -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return validation_failed(caught.value).text.render(locale)


def test_prompt_is_trimmed_before_its_length_is_checked() -> None:
    assert CreateTaskBody.model_validate({"prompt": f"  {'a' * 500}\n"}).prompt == "a" * 500
    assert message_for(CreateTaskBody, {"prompt": "a" * 501}) == (
        "prompt: String should have at most 500 characters"
    )
    assert message_for(CreateTaskBody, {"prompt": "a" * 501}, "zh-CN") == "prompt: 最多 500 个字符"


def test_unknown_fields_are_ignored() -> None:
    assert CreateTaskBody.model_validate({"prompt": "a", "style": 1}).prompt == "a"


def test_every_invalid_field_is_named() -> None:
    message = message_for(SelectImageBody, {"selectedImageIndex": False})
    assert message == "selectedImageIndex: Input should be a valid integer"
    message = message_for(SelectImageBody, {"selectedImageIndex": False}, "zh-CN")
    assert message == "selectedImageIndex: 应为整数"


def test_the_choices_of_a_literal_are_joined_in_the_readers_language() -> None:
    """pydantic names the choices in English (`'images' or 'model'`): no "or" in Chinese."""
    assert message_for(RetryBody, {"type": "x"}) == "type: Input should be 'images' or 'model'"
    assert (
        message_for(RetryBody, {"type": "x"}, "zh-CN") == "type: 应为以下之一：'images' 或 'model'"
    )
    three = message_for(SendCodeBody, {"email": "a@example.com", "type": "x"}, "zh-CN")
    assert three == "type: 应为以下之一：'login', 'register' 或 'modify_password'"


def test_a_rule_about_the_whole_query_names_no_field() -> None:
    """The clause is the reason alone (no English `query: ` before Chinese); the details keep
    `query` as the field for programs."""
    with pytest.raises(ValidationError) as caught:
        TaskListQuery.model_validate({"page": "2", "offset": "20"})
    failed = validation_failed(caught.value, whole="query")
    assert failed.text.render("zh-CN") == texts.PAGE_OR_OFFSET.render("zh-CN")
    assert failed.text.render("en") == texts.PAGE_OR_OFFSET.render("en")
    assert failed.details is not None
    assert [error["field"] for error in failed.details["errors"]] == ["query"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-04T12:00:21.412Z", datetime(2026, 2, 4, 12, 0, 21, 412000, tzinfo=UTC)),
        ("2026-02-04T20:00:21.412+08:00", datetime(2026, 2, 4, 12, 0, 21, 412000, tzinfo=UTC)),
        # `+08:00` sent unencoded in a query string arrives with a space
        ("2026-02-04T20:00:21.412 08:00", datetime(2026, 2, 4, 12, 0, 21, 412000, tzinfo=UTC)),
        ("2026-02-04T12:00:21.412999Z", datetime(2026, 2, 4, 12, 0, 21, 412000, tzinfo=UTC)),
        ("2026-02-04T12:00:21", datetime(2026, 2, 4, 12, 0, 21, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_since_parsing(value: str | None, expected: datetime | None) -> None:
    assert parse_since(value) == expected


@pytest.mark.parametrize("value", ["soon", "2026-02-04T25:00:00Z", "1738670421"])
def test_unparseable_since_is_a_validation_error(value: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_since(value)


@pytest.mark.parametrize(
    ("query", "window"),
    [
        ({}, (20, 0)),
        ({"limit": "1"}, (1, 0)),
        ({"limit": "5", "offset": "10"}, (5, 10)),
        ({"page": "1", "pageSize": "20"}, (20, 0)),
        ({"page": "3", "pageSize": "20"}, (20, 40)),
        ({"page": "2"}, (20, 20)),
        ({"page": "2", "limit": "7"}, (7, 7)),
    ],
)
def test_both_apps_ways_of_paging_become_one_window(
    query: dict[str, str], window: tuple[int, int]
) -> None:
    assert TaskListQuery.model_validate(query).window() == window


@pytest.mark.parametrize("prompt", ["\x1f", " \x1c\x1d\x1e ", "\u2028"])
def test_a_prompt_of_what_python_calls_whitespace_is_empty(prompt: str) -> None:
    """Found by the fuzzer: pydantic kept `\\x1f`, the prompt provider then had nothing."""
    reason = texts.TEXT_EMPTY()
    assert message_for(CreateTaskBody, {"prompt": prompt}) == f"prompt: {reason.render('en')}"
    assert message_for(CreateTaskBody, {"prompt": prompt}, "zh-CN") == "prompt: 不能为空"
