"""E-mail and login-code settings: production refuses the console backend, SMTP needs its host."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lumi_api.mail.settings import EmailBackend
from lumi_api.settings import ApiSettings
from lumi_common.settings import describe_errors

PRODUCTION: dict[str, Any] = {
    "cookie_secret": "Yq3_kP9-vT1xW7mZ2nB8cR4dF6gH0jL5sA",
    "file_url_secret": "Fz8_Lq2-Rw5tY9uP3oI7kJ1hG4dS6aM0x",
    "database_url": "mysql://lumi@db/lumi",
    "app_env": "production",
    "public_base_url": "https://api.example.com",
    "cors_origins": "https://lumi.example.com",
}
SMTP: dict[str, Any] = {
    "email_backend": "smtp",
    "smtp_host": "smtp.example.com",
    "smtp_from": "no-reply@x.io",
}


def error_lines(**values: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        ApiSettings(**values)
    return describe_errors(caught.value)


def test_development_defaults_to_the_console_backend() -> None:
    settings = ApiSettings(cookie_secret="s" * 32)
    assert settings.email_backend is EmailBackend.CONSOLE
    assert settings.login_code_ttl_seconds == 600
    assert settings.login_code_max_attempts == 5
    assert (settings.send_code_interval_seconds, settings.send_code_per_address_per_hour) == (60, 5)
    assert settings.send_code_per_ip_per_hour == 20
    assert settings.trusted_proxy_hops == 0  # the TCP peer, not a header anyone can send


@pytest.mark.parametrize("backend", [{}, {"email_backend": "console"}])
def test_production_refuses_the_console_backend_in_one_line(backend: dict[str, str]) -> None:
    (line,) = error_lines(**PRODUCTION, **backend)
    assert line.startswith("configuration error: ")
    assert "EMAIL_BACKEND=console" in line
    assert "EMAIL_BACKEND=smtp" in line


def test_production_with_smtp_starts() -> None:
    settings = ApiSettings(**PRODUCTION, **SMTP)
    assert settings.smtp_port == 587
    assert settings.smtp_starttls is True


@pytest.mark.parametrize("missing", ["smtp_host", "smtp_from"])
def test_smtp_needs_a_host_and_a_sender(missing: str) -> None:
    values = {**SMTP, missing: ""}  # an empty variable counts as unset
    (line,) = error_lines(cookie_secret="s" * 32, **values)
    assert "EMAIL_BACKEND=smtp needs SMTP_HOST and SMTP_FROM" in line


def test_smtp_username_and_password_go_together() -> None:
    (line,) = error_lines(cookie_secret="s" * 32, **SMTP, smtp_username="lumi")
    assert "SMTP_USERNAME and SMTP_PASSWORD" in line


def test_a_sender_must_be_an_address() -> None:
    (line,) = error_lines(cookie_secret="s" * 32, **{**SMTP, "smtp_from": "Lumi"})
    assert line.startswith("configuration error: SMTP_FROM:")


def test_the_smtp_password_is_hidden_from_repr() -> None:
    settings = ApiSettings(
        cookie_secret="s" * 32, **SMTP, smtp_username="lumi", smtp_password="hunter2-secret"
    )
    assert "hunter2-secret" not in repr(settings)
