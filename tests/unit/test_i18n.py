"""The language catalogue (issue 16, point 5): choosing a reader's language, sentences a worker
records and the API shows later, and the catalogue's own rules."""

from __future__ import annotations

import pytest

from lumi_common.i18n import (
    Joined,
    Locale,
    Message,
    catalogue,
    current_locale,
    jobs,
    negotiate,
    parse_stored,
    rendered_for_reader,
    shown,
    stored,
    use_locale,
)
from lumi_common.i18n import http as common_texts
from lumi_common.i18n.http import duration

# a message of this module's own, defined once at import (keys are global)
GREETING = Message(
    "TEST_I18N_GREETING", zh="你好，{name}，还剩 {wait}", en="Hello {name}, {wait} left"
)
PLAIN = Message("TEST_I18N_PLAIN", zh="完成", en="Test sentence done")
JOIN = Message("TEST_I18N_JOIN", zh="；", en="; ")
APPLES = Message(
    "TEST_I18N_APPLES",
    zh="{name} 有 {count} 个苹果",
    en="{name} has {count} apples",
    en_one="{name} has {count} apple",
    count="count",
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # by quality first
        ("en;q=0.5, zh-CN;q=0.9", "zh-CN"),
        ("zh-CN;q=0.4, en;q=0.8", "en"),
        ("fr, en;q=0.1, zh;q=0.05", "en"),
        # equal quality: the earlier one
        ("en, zh-CN", "en"),
        ("zh-CN, en", "zh-CN"),
        ("en;q=0.7, zh;q=0.7", "en"),
        # any Chinese is the Chinese we have, any English is English
        ("zh-TW", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-Hant-HK", "zh-CN"),
        ("ZH", "zh-CN"),
        ("en-GB", "en"),
        ("EN-us", "en"),
        ("en-US,en;q=0.9", "en"),
        # a language we do not have is passed over
        ("fr-FR, en;q=0.3", "en"),
        ("de, fr", "zh-CN"),
        # `*` is the default
        ("*", "zh-CN"),
        ("fr, *;q=0.5", "zh-CN"),
        # q=0 means "not this one"
        ("en;q=0", "zh-CN"),
        ("en;q=0, zh;q=0", "zh-CN"),
        ("en;q=0.000", "zh-CN"),
        # garbage and empty headers
        ("", "zh-CN"),
        (";;;,,,", "zh-CN"),
        ("en;q=banana", "zh-CN"),
        ("en;q=2", "en"),
        ("english", "zh-CN"),
        ("  en  ;  q=0.9 ", "en"),
    ],
)
def test_negotiate(header: str, expected: Locale) -> None:
    assert negotiate(header, "zh-CN") == expected


def test_negotiate_without_a_header_is_the_default() -> None:
    assert negotiate(None, "zh-CN") == "zh-CN"
    assert negotiate(None, "en") == "en"
    assert negotiate("", "en") == "en"
    assert negotiate("*", "en") == "en"
    assert negotiate("fr", "en") == "en"
    assert negotiate("zh", "en") == "zh-CN"


def test_negotiate_reads_only_the_first_items_of_a_huge_header() -> None:
    assert negotiate(", ".join(["fr"] * 100 + ["en"]), "zh-CN") == "zh-CN"


def test_use_locale_sets_the_reader_and_notes_a_rendered_sentence() -> None:
    assert current_locale() == "zh-CN"
    with use_locale("en"):
        assert current_locale() == "en"
        assert not rendered_for_reader()
        assert PLAIN.render("zh-CN") == "完成"  # an explicit language is not the reader's
        assert not rendered_for_reader()
        assert common_texts.NOT_FOUND().render() == "Not found"
        assert rendered_for_reader()
    assert current_locale() == "zh-CN"
    assert common_texts.NOT_FOUND().render() == "未找到"


def test_a_text_renders_its_values_and_a_duration_in_the_same_language() -> None:
    text = GREETING(name="Ada", wait=duration(90))
    assert text.render("zh-CN") == "你好，Ada，还剩 90 秒"
    assert text.render("en") == "Hello Ada, 90 seconds left"
    assert str(text) == "Hello Ada, 90 seconds left"  # logs and exceptions read English


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (0, "0 秒", "0 seconds"),
        (1, "1 秒", "1 second"),
        (59, "59 秒", "59 seconds"),
        (119, "119 秒", "119 seconds"),
        (120, "2 分钟", "2 minutes"),
        (121, "3 分钟", "3 minutes"),  # rounded up: never promise a shorter wait
        (3600, "60 分钟", "60 minutes"),
        (119 * 60, "119 分钟", "119 minutes"),
        (120 * 60, "2 小时", "2 hours"),
        (86400, "24 小时", "24 hours"),
        (86399, "24 小时", "24 hours"),
    ],
)
def test_durations_in_both_languages(seconds: int, zh: str, en: str) -> None:
    assert duration(seconds).render("zh-CN") == zh
    assert duration(seconds).render("en") == en


@pytest.mark.parametrize(
    ("count", "en"),
    [
        (0, "Ada has 0 apples"),
        (1, "Ada has 1 apple"),
        ("1", "Ada has 1 apple"),  # a stored count is text
        (2, "Ada has 2 apples"),
        (1.5, "Ada has 1.5 apples"),
        (11, "Ada has 11 apples"),
        (21, "Ada has 21 apples"),
    ],
)
def test_an_english_count_of_one_is_singular_and_chinese_has_one_template(
    count: int | float | str, en: str
) -> None:
    text = APPLES(name="Ada", count=count)
    assert text.render("en") == en
    assert text.render("zh-CN") == f"Ada 有 {count} 个苹果"
    assert shown(stored(text), "en") == en


def test_a_counted_message_is_checked_at_import() -> None:
    with pytest.raises(ValueError, match="go together"):
        Message("TEST_I18N_NO_COUNT", zh="{n} 个", en="{n} items", en_one="{n} item")
    with pytest.raises(ValueError, match="go together"):
        Message("TEST_I18N_NO_ONE", zh="{n} 个", en="{n} items", count="n")
    with pytest.raises(ValueError, match="not one of its fields"):
        Message("TEST_I18N_BAD_COUNT", zh="{n} 个", en="{n} items", en_one="{n} item", count="m")
    with pytest.raises(ValueError, match="en_one and en name different fields"):
        Message("TEST_I18N_BAD_ONE", zh="{n} 个", en="{n} items", en_one="one item", count="n")
    refused = {"TEST_I18N_NO_COUNT", "TEST_I18N_NO_ONE", "TEST_I18N_BAD_COUNT", "TEST_I18N_BAD_ONE"}
    assert not refused & set(catalogue())


def test_a_message_takes_exactly_its_fields() -> None:
    with pytest.raises(TypeError):
        GREETING(name="Ada")
    with pytest.raises(TypeError):
        GREETING(name="Ada", wait="1", extra="x")
    with pytest.raises(TypeError):
        PLAIN(name="x")


def test_templates_naming_different_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="different fields"):
        Message("TEST_I18N_MISMATCH", zh="还剩 {wait}", en="{seconds} left")
    assert "TEST_I18N_MISMATCH" not in catalogue()


def test_a_key_defined_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        Message("TEST_I18N_PLAIN", zh="别的", en="Something else")
    assert catalogue()["TEST_I18N_PLAIN"] is PLAIN


def test_stored_and_shown_round_trip_with_values() -> None:
    recorded = stored(GREETING(name="李雷", wait="3"))
    assert recorded.startswith("msg:TEST_I18N_GREETING ")
    assert shown(recorded, "zh-CN") == "你好，李雷，还剩 3"
    assert shown(recorded, "en") == "Hello 李雷, 3 left"
    recorded = stored(GREETING(name="Ada", wait=7))
    assert (shown(recorded, "zh-CN"), shown(recorded, "en")) == (
        "你好，Ada，还剩 7",
        "Hello Ada, 7 left",
    )
    with use_locale("en"):
        assert shown(recorded) == "Hello Ada, 7 left"
        assert rendered_for_reader()


def test_stored_without_values_is_just_the_key() -> None:
    assert stored(jobs.GENERATION_FAILED) == "msg:GENERATION_FAILED"
    assert stored(jobs.GENERATION_FAILED()) == "msg:GENERATION_FAILED"
    assert shown("msg:GENERATION_FAILED", "zh-CN") == "生成失败，请重试。"
    assert shown("msg:GENERATION_FAILED", "en") == "Generation failed. Please try again."
    assert shown("msg:GENERATION_FAILED") == "生成失败，请重试。"  # the default reader


@pytest.mark.parametrize(
    "old",
    [
        "refused",
        "Provider said no",
        "",
        "生成失败了",
        "msg",
        "msg:",
    ],
)
def test_old_plain_rows_are_shown_as_they_are(old: str) -> None:
    assert shown(old, "zh-CN") == old
    assert shown(old, "en") == old


def test_nothing_stays_nothing() -> None:
    assert shown(None, "zh-CN") is None


@pytest.mark.parametrize(
    "message", [jobs.CANCELLED, jobs.GENERATION_FAILED, jobs.CONTENT_REFUSED, jobs.PROVIDER_FAILED]
)
def test_old_rows_holding_a_catalogue_english_sentence_are_translated(message: Message) -> None:
    old = message.en  # what the workers wrote before the catalogue
    assert shown(old, "zh-CN") == message.zh
    assert shown(old, "en") == message.en


@pytest.mark.parametrize(
    "value",
    [
        "msg:NO_SUCH_KEY_ANYWHERE",
        'msg:NO_SUCH_KEY_ANYWHERE {"a": 1}',
        "msg:TEST_I18N_GREETING",  # its fields missing
        'msg:TEST_I18N_GREETING {"name": "Ada"}',  # one of them missing
        'msg:TEST_I18N_GREETING {"name": "Ada", "wait": "1", "x": 2}',
        "msg:TEST_I18N_GREETING {not json",
        'msg:TEST_I18N_GREETING ["Ada", "1"]',
        'msg:TEST_I18N_PLAIN {"name": "x"}',
    ],
)
def test_an_unknown_or_broken_reference_is_shown_verbatim(value: str) -> None:
    assert parse_stored(value) is None
    assert shown(value, "zh-CN") == value
    assert shown(value, "en") == value


def test_joined_sentences_share_the_language_and_its_separator() -> None:
    joined = Joined([GREETING(name="A", wait=duration(5)), PLAIN()], JOIN)
    assert joined.render("zh-CN") == "你好，A，还剩 5 秒；完成"
    assert joined.render("en") == "Hello A, 5 seconds left; Test sentence done"
    assert str(joined) == joined.render("en")
    with use_locale("en"):
        assert joined.render() == "Hello A, 5 seconds left; Test sentence done"
        assert rendered_for_reader()
    assert Joined([], JOIN).render("en") == ""
