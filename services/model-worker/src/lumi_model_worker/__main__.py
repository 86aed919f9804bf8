"""`lumi-model-worker`: consume the model job stream."""

from __future__ import annotations

from lumi_common.streams.entry import worker_main
from lumi_model_worker.service import run
from lumi_model_worker.settings import ModelWorkerSettings


def main(argv: list[str] | None = None) -> None:
    worker_main(
        argv,
        service="model-worker",
        description="Consume model jobs from Redis Streams.",
        settings_class=ModelWorkerSettings,
        run=run,
    )


if __name__ == "__main__":
    main()
