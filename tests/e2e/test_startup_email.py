"""`lumi-api` in production refuses to start with the console e-mail backend (codes in logs)."""

from __future__ import annotations

import secrets
import subprocess

import pytest

from tests.support.processes import clean_env, script

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("backend", [None, "console"])
def test_production_refuses_the_console_email_backend(backend: str | None) -> None:
    env = clean_env(
        APP_ENV="production",
        COOKIE_SECRET=secrets.token_urlsafe(40),  # not weak: only the backend is wrong
        DATABASE_URL="mysql://lumi@db.invalid/lumi",
        PUBLIC_BASE_URL="https://api.example.com",
        CORS_ORIGINS="https://lumi.example.com",
    )
    env.pop("EMAIL_BACKEND", None)
    if backend is not None:
        env["EMAIL_BACKEND"] = backend
    result = subprocess.run(
        [script("lumi-api")], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("configuration error: ")
    assert "EMAIL_BACKEND=console" in line
