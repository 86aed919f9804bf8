"""One webhook delivery: sign its fixed body for this attempt, POST it, return the answer
(`Done`: the runtime completes the delivery with its status and duration). Failures raise; the
runtime retries them with backoff, then dead-letters them."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import WebhookDelivery, WebhookEndpoint, WebhookSecret
from lumi_common.errors import PermanentError
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.results import Done
from lumi_common.messages import WebhookDeliveryRequested
from lumi_common.webhooks import signing
from lumi_webhook_worker.delivery import Sender


class NoSecret(PermanentError):
    code = "WEBHOOK_NO_SECRET"


@dataclass(frozen=True, slots=True)
class Deps:
    sessionmaker: async_sessionmaker[AsyncSession]
    sender: Sender


async def handle_delivery(
    deps: Deps, message: WebhookDeliveryRequested, claim: Claim[WebhookDelivery]
) -> Done[None]:
    job = claim.job
    secret = await _secret(deps, job)
    body = job.payload.encode()
    headers = signing.headers(secret, msg_id=job.id, timestamp=int(time.time()), body=body)
    answer = await deps.sender.post(job.url, body=body, headers=headers)
    return Done(values={"response_status": answer.status, "duration_ms": answer.duration_ms})


async def _secret(deps: Deps, job: WebhookDelivery) -> str:
    """The endpoint's secret, or the user's `callbackUrl` secret (made on first use)."""
    if job.endpoint_id is not None:
        async with deps.sessionmaker() as session:
            endpoint = await session.get(WebhookEndpoint, job.endpoint_id)
        if endpoint is None:  # deleted meanwhile: its deliveries went with it
            raise NoSecret("the webhook was deleted")
        return endpoint.secret
    try:
        return await _callback_secret(deps, job.user_id)
    except IntegrityError:  # a delivery to the same user made it at the same moment
        return await _callback_secret(deps, job.user_id)


async def _callback_secret(deps: Deps, user_id: str) -> str:
    async with deps.sessionmaker.begin() as session:
        found = await session.get(WebhookSecret, user_id)
        if found is None:
            found = WebhookSecret(user_id=user_id, secret=signing.new_secret())
            session.add(found)
        return found.secret
