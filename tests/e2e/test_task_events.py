"""Task events across replicas: a client on API process B follows a task that the image worker
and API process A change; every change reaches it, in order, through Redis."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.processes import free_port
from tests.support.services import Services, wait_ready
from tests.support.sse import EventReader

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("empty_outbox", "no_stuck_jobs")]


async def test_changes_made_through_replica_a_and_a_worker_reach_a_client_on_replica_b(
    services: Services,
) -> None:
    await services.start_api()  # replica A, on the services' port
    port_b = free_port()
    replica_b = services.spawn("lumi-api", PORT=str(port_b), RELAY_ENABLED="false")
    await wait_ready(replica_b, f"http://127.0.0.1:{port_b}/api/health")
    token = await services.token("sse-replicas@example.com")
    a, b = services.base_url, f"http://127.0.0.1:{port_b}"

    async with aiohttp.ClientSession(headers={"Authorization": token}) as http:
        async with http.post(f"{a}/api/tasks", json={"prompt": "a paper boat"}) as created:
            assert created.status == 201
            task_id = (await created.json())["data"]["id"]
        async with http.get(f"{b}/api/tasks/{task_id}/events") as response:
            assert response.status == 200
            stream = EventReader(response)
            first = await stream.next()
            assert first is not None
            statuses = [first.json()["status"]]
            ids = [first.id]
            await services.start_worker("lumi-image-worker")
            while statuses[-1] != "IMAGE_COMPLETED":
                event = await stream.next(within=30)
                assert event is not None
                statuses.append(event.json()["status"])
                ids.append(event.id)
            chosen = {"selectedImageIndex": 2}
            async with http.patch(f"{a}/api/tasks/{task_id}", json=chosen) as selected:
                assert selected.status == 200
            picked = await stream.next()
            assert picked is not None
            assert picked.json()["status"] == "MODEL_PENDING"
            assert picked.json()["selectedImageIndex"] == 2
            async with http.post(f"{a}/api/tasks/{task_id}/cancel") as cancelled:
                assert cancelled.status == 200
            rest = await stream.all()
    assert [e.json()["status"] for e in rest[:-1]] == ["CANCELLED"]
    assert rest[-1].event == "end"
    assert statuses[0] == "IMAGE_PENDING"
    assert "IMAGE_GENERATING" in statuses
    every_id = [str(event_id) for event_id in (*ids, picked.id, rest[0].id)]
    assert every_id == sorted(every_id)
    assert len(set(every_id)) == len(every_id)
