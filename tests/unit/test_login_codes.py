"""Login codes, their hash, and which client address a request is counted under."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from lumi_api import texts
from lumi_api.auth.codes import CodeRules, code_message, new_code
from lumi_api.client_address import client_address
from lumi_common.i18n import Locale

RULES = CodeRules(secret="k" * 32, ttl=timedelta(minutes=10), max_attempts=5)


def test_codes_are_six_digits_with_leading_zeros_kept() -> None:
    codes = [new_code() for _ in range(2000)]
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert any(code.startswith("0") for code in codes)
    assert len(set(codes)) > 1900


def test_the_hash_is_keyed_and_bound_to_the_address() -> None:
    digest = RULES.hash(email="a@example.com", code="123456")
    assert digest == RULES.hash(email="a@example.com", code="123456")
    assert digest != RULES.hash(email="b@example.com", code="123456")
    assert digest != RULES.hash(email="a@example.com", code="123457")
    other_key = CodeRules(secret="j" * 32, ttl=RULES.ttl, max_attempts=5)
    assert digest != other_key.hash(email="a@example.com", code="123456")
    assert "123456" not in digest


@pytest.mark.parametrize(
    ("locale", "first", "second"),
    [("zh-CN", "10 分钟内有效", "10 minutes"), ("en", "10 minutes", "10 分钟内有效")],
)
def test_the_message_names_the_code_and_its_lifetime_in_both_languages(
    locale: Locale, first: str, second: str
) -> None:
    message = code_message(
        to="a@example.com", code="042042", ttl=timedelta(minutes=10), locale=locale
    )
    assert message["To"] == "a@example.com"
    assert "042042" not in str(message["Subject"])
    text = message.get_content()
    assert text.count("042042") == 2
    # the reader's language first, the other one after it
    assert first in text
    assert second in text
    assert text.index(first) < text.index(second)
    assert str(message["Subject"]).startswith(texts.CODE_EMAIL_SUBJECT.render(locale) + " / ")


class Transport:
    """Just enough of a transport for `request.remote`: its peer address."""

    def __init__(self, host: str) -> None:
        self.host = host

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (self.host, 1234) if name == "peername" else default


def request(peer: str, forwarded: list[str]) -> web.Request:
    headers = CIMultiDict(("X-Forwarded-For", value) for value in forwarded)
    return make_mocked_request(
        "POST", "/api/auth/send-code", headers=headers, transport=Transport(peer)
    )


@pytest.mark.parametrize(
    ("peer", "forwarded", "trust", "expected"),
    [
        ("203.0.113.5", ["198.51.100.1"], False, "203.0.113.5"),
        ("10.0.0.2", ["198.51.100.1, 203.0.113.9"], True, "203.0.113.9"),
        ("10.0.0.2", ["198.51.100.1", "203.0.113.9"], True, "203.0.113.9"),
        ("10.0.0.2", ["not-an-ip"], True, "10.0.0.2"),
        ("10.0.0.2", [], True, "10.0.0.2"),
        ("2001:db8:1:2:3:4:5:6", [], False, "2001:db8:1:2::"),
        ("::ffff:192.0.2.1", [], False, "192.0.2.1"),
    ],
)
def test_client_address(peer: str, forwarded: list[str], trust: bool, expected: str) -> None:
    assert client_address(request(peer, forwarded), 1 if trust else 0) == expected
