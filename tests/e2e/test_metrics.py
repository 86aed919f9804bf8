"""The system as Kubernetes runs it — an API without a relay, `lumi relay` alone, an image
worker — scraped as Prometheus scrapes it: one task shows up in every process's `/metrics`
exactly (one create, four events published after its commit, four jobs claimed and completed;
nothing left for the relay)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.lumi_client import LumiClient
from tests.support.metrics import scrape
from tests.support.processes import free_port
from tests.support.services import Services, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
IMAGES = {"kind": "image", "provider": "offline"}
GROUP = {"stream": "image-jobs", "group": "image-jobs-workers"}
NO_CACHE = {"METRICS_CACHE_SECONDS": "0"}


async def test_one_task_in_the_metrics_of_api_relay_and_worker(services: Services) -> None:
    await services.start_api(RELAY_ENABLED="false", **NO_CACHE)
    relay_port = free_port()
    relay = services.spawn("lumi", "relay", HEALTH_PORT=str(relay_port), **NO_CACHE)
    await wait_ready(relay, f"http://127.0.0.1:{relay_port}/")
    image_worker = await services.start_worker(
        "lumi-image-worker", IMAGE_PROVIDER="offline", **NO_CACHE
    )
    worker_port = image_worker.env["HEALTH_PORT"]
    token = await services.token("metrics@example.com")
    async with aiohttp.ClientSession() as session:
        client = LumiClient(session, services.base_url, token)
        task = await client.create_task("a lighthouse at dusk")
        await client.watch(task).until(lambda t: t["status"] == "IMAGE_COMPLETED")

    api = await scrape(f"{services.base_url}/metrics")
    created = {"method": "POST", "route": "/api/tasks", "status": "201"}
    assert api.value("lumi_http_requests_total", **created) == 1
    # the API published its create's events itself, right after the commit
    assert api.value("lumi_relay_publish_latency_seconds_count", publisher="writer") == 4
    assert api.value("lumi_outbox_due_rows") == 0
    assert api.value("lumi_stream_length", stream="image-jobs") == 4
    assert api.value("lumi_stream_group_consumers_active", **GROUP) == 1

    relayed = await scrape(f"http://127.0.0.1:{relay_port}/metrics")
    assert relayed.value("lumi_relay_publish_latency_seconds_count", publisher="relay") == 0
    assert relayed.value("lumi_outbox_due_rows") == 0

    worker = await scrape(f"http://127.0.0.1:{worker_port}/metrics")
    assert worker.value("lumi_jobs_claimed_total", **IMAGES) == 4
    assert worker.value("lumi_jobs_completed_total", **IMAGES) == 4
    assert worker.value("lumi_jobs_dead_lettered_total", reason="permanent_error", **IMAGES) == 0
    assert worker.value("lumi_job_duration_seconds_count", **IMAGES) == 4
    assert worker.value("lumi_stream_group_pending", **GROUP) == 0
    assert worker.value("lumi_stream_dead_letters", stream="image-jobs") == 0
