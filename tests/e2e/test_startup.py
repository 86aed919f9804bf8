"""The console scripts as an operator runs them."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import clean_env, free_port, script, wait_for_http

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("secret", [None, "x" * 31])
@pytest.mark.parametrize("command", ["lumi-api"])
def test_production_refuses_a_missing_or_short_cookie_secret(
    command: str, secret: str | None
) -> None:
    env = clean_env(
        APP_ENV="production",
        PUBLIC_BASE_URL="https://api.example.com",
        CORS_ORIGINS="https://lumi.example.com",
    )
    if secret is not None:
        env["COOKIE_SECRET"] = secret
    result = subprocess.run([script(command)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("configuration error: COOKIE_SECRET:")


def test_make_run_serves_health_on_embedded_defaults_and_stops_cleanly(tmp_path: Path) -> None:
    """What `make run` does (`lumi dev`): embedded Valkey + SQLite under ./.lumi, API on PORT."""
    port = free_port()
    env = clean_env(PORT=str(port), LOG_FORMAT="json")
    process = subprocess.Popen(
        [script("lumi"), "dev"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/api/health") == 200
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert (tmp_path / ".lumi" / "lumi.db").exists()
    assert (tmp_path / ".lumi" / "valkey").is_dir()
    assert "generated a random COOKIE_SECRET" in output
    api_events = [
        json.loads(line.split("| ", 1)[1])
        for line in output.splitlines()
        if line.startswith("lumi-api") and "| {" in line
    ]
    completed = [e for e in api_events if e["event"] == "http.request.completed"]
    assert completed
    assert completed[0]["request_id"]
    assert completed[0]["path"] == "/api/health"
