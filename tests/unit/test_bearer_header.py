from __future__ import annotations

import pytest

from lumi_api.auth.service import hash_token, token_from_header


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        ("abc", "abc"),
        ("  abc ", "abc"),
        (None, None),
        ("", None),
        ("Bearer", "Bearer"),  # a bare word is looked up (and not found), never an error
        ("Bearer ", "Bearer"),
        ("x" * 257, None),
    ],
)
def test_token_from_header(header: str | None, token: str | None) -> None:
    assert token_from_header(header) == token


def test_tokens_are_stored_as_sha256_hex() -> None:
    assert hash_token("abc") == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
