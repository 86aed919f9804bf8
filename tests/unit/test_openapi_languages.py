"""The OpenAPI document says how a client chooses the language of the sentences it reads: the
`Accept-Language` request header (a reusable parameter) and, on every error, `Content-Language`
and `Vary`."""

from __future__ import annotations

from lumi_api.openapi.document import build_document
from lumi_common.i18n import LOCALES


def test_accept_language_is_a_reusable_header_parameter() -> None:
    doc = build_document([], title="Lumi", version="test")
    parameter = doc["components"]["parameters"]["AcceptLanguage"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == (
        "Accept-Language",
        "header",
        False,
    )
    assert "DEFAULT_LOCALE" in parameter["description"]
    assert "Accept-Language" in doc["info"]["description"]


def test_every_error_response_names_its_language() -> None:
    doc = build_document([], title="Lumi", version="test")
    for name, response in doc["components"]["responses"].items():
        headers = response["headers"]
        assert headers["Content-Language"]["schema"] == {"enum": list(LOCALES)}, name
        assert "Vary" in headers, name
    assert "Retry-After" in doc["components"]["responses"]["RateLimited"]["headers"]
