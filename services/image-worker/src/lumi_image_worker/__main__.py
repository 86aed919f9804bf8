"""`lumi-image-worker`: consume the image job stream."""

from __future__ import annotations

from lumi_common.streams.entry import worker_main
from lumi_image_worker.service import run
from lumi_image_worker.settings import ImageWorkerSettings


def main(argv: list[str] | None = None) -> None:
    worker_main(
        argv,
        service="image-worker",
        description="Consume image jobs from Redis Streams.",
        settings_class=ImageWorkerSettings,
        run=run,
    )


if __name__ == "__main__":
    main()
