"""`lumi-api`: serve the HTTP API."""

from __future__ import annotations

import argparse

import structlog

from lumi_api.processes import Supervisor, serve
from lumi_api.settings import ApiSettings
from lumi_common.logging import configure_logging
from lumi_common.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="lumi-api",
        description="Serve the Lumi HTTP API. Configuration comes from the environment "
        "(see docs/configuration.md).",
    )
    parser.add_argument("--host", help="bind address (default: HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: PORT, 3000)")
    args = parser.parse_args(argv)
    settings = load_settings(ApiSettings)
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    configure_logging(settings, service="api")
    structlog.get_logger("lumi_api").info(
        "api.starting",
        host=settings.host,
        port=settings.port,
        app_env=settings.app_env.value,
        processes=settings.api_processes,
    )
    if settings.api_processes == 1:
        serve(settings)
    else:
        raise SystemExit(Supervisor(settings).run())


if __name__ == "__main__":
    main()
