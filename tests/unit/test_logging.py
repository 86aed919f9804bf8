from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from lumi_common.logging import configure_logging
from lumi_common.settings import LogSettings


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_context_and_stdlib_logs_share_the_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LogSettings(log_format="json"), service="api")
    structlog.contextvars.bind_contextvars(request_id="req-1")
    try:
        structlog.get_logger("lumi").debug("below.the.level")
        structlog.get_logger("lumi").info("task.created", task_id="t1")
        logging.getLogger("aiohttp.server").warning("plain %s", "stdlib")
    finally:
        structlog.contextvars.clear_contextvars()
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["event"] == "task.created"
    assert first["task_id"] == "t1"
    assert first["request_id"] == "req-1"
    assert first["service"] == "api"
    assert first["level"] == "info"
    assert first["logger"] == "lumi"
    assert second["event"] == "plain stdlib"
    assert second["logger"] == "aiohttp.server"
    assert second["request_id"] == "req-1"


@pytest.mark.usefixtures("restore_logging")
def test_console_format_in_development(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(app_env="development"), service="api")
    structlog.get_logger("lumi").info("task.created", task_id="t1")
    out = capsys.readouterr().out
    assert "task.created" in out
    assert "task_id" in out
    assert not out.lstrip().startswith("{")
