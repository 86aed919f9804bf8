"""structlog configuration: JSON lines (orjson) in deployments, a console renderer in development.

Standard-library loggers (aiohttp, SQLAlchemy, alembic) are routed through the same processor
chain, so every line of a process has one format and carries the bound context variables
(`request_id` in the API; `stream`, `job_id`, `attempt`, `trace_id` in workers).

Our own events do not pass through the standard library: a level-filtering structlog logger
renders them and writes the line itself. The detour through `logging` (a `LogRecord`, a caller
lookup that walks the stack, handler and formatter dispatch) cost more than the event itself,
once per request in the access log (docs/performance.md, "API, 2026-11-29 03:00–04:00 UTC").
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from lumi_common.settings import LogSettings

# chatty libraries that would drown our own events at INFO
_QUIET_LOGGERS = {"aiohttp.access": logging.WARNING, "sqlalchemy.engine": logging.WARNING}


def _orjson_dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _add_service(service: str) -> Processor:
    def processor(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        event.setdefault("service", service)
        return event

    return processor


class _NamedWriteLogger(structlog.WriteLogger):
    """Writes rendered lines; keeps the name it was asked for (`add_logger_name` reads it)."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name


class _NamedWriteLoggerFactory:
    def __init__(self, file: TextIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(self._file, str(args[0]) if args else "")


def configure_logging(settings: LogSettings, *, service: str) -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
    ]
    renderer: Processor
    if settings.renders_json:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    structlog.configure(
        processors=[*shared, renderer],
        # events below the level are dropped before any processor runs (hot paths log per message)
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[settings.log_level]
        ),
        logger_factory=_NamedWriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name, level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, logging.getLevelName(settings.log_level)))
