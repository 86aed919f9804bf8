"""Prompt variants from a chat model, asked once per request by the first of its image jobs.

The API writes the offline variants at creation (the create stays one fast transaction). With
`PROMPT_PROVIDER=openai` the first image job of a request claims it (`prompt_provider` NULL →
"openai:pending", a compare-and-set), asks the chat model, and writes the four variants to the
images — or keeps the offline ones and says why (`prompt_note`, a log line). The other jobs of
the request wait meanwhile as delayed events (no slot held); a claim older than `stale_after`
(its worker died) is taken over.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.changes import changed
from lumi_common.db.tables import GeneratedImage, GenerationRequest
from lumi_common.errors import JobError
from lumi_common.pipeline.requests import lock_request, touch
from lumi_common.providers.prompts import DEFAULT_VARIANT_COUNT
from lumi_common.time import utcnow

log = structlog.get_logger()
PENDING = "openai:pending"
OFFLINE = "offline"


class PromptVariants(Protocol):
    @property
    def name(self) -> str: ...

    async def variants(self, prompt: str, count: int = DEFAULT_VARIANT_COUNT) -> list[str]: ...


async def variants_ready(
    sessionmaker: async_sessionmaker[AsyncSession],
    source: PromptVariants,
    *,
    request_id: str,
    stale_after: timedelta,
) -> bool:
    """True once the request's image prompts are final (the job may generate); False while
    another job is asking the chat model (the caller waits and comes back)."""
    if not await _claim(sessionmaker, request_id, stale_after):
        async with sessionmaker() as session:
            provider = await session.scalar(
                select(GenerationRequest.prompt_provider).where(GenerationRequest.id == request_id)
            )
        return provider != PENDING
    prompt = await _prompt_of(sessionmaker, request_id)
    try:
        variants, provider, note = await source.variants(prompt), source.name, None
    except (JobError, TimeoutError) as error:
        variants, provider = None, OFFLINE
        note = f"the chat model failed, the offline variants stay: {error}"[:500]
        log.warning("prompt_variants.fallback", request_id=request_id, reason=str(error)[:300])
    await _write(sessionmaker, request_id, variants, provider=provider, note=note)
    return True


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], request_id: str, stale_after: timedelta
) -> bool:
    now = utcnow()
    free = GenerationRequest.prompt_provider.is_(None)
    stale = (GenerationRequest.prompt_provider == PENDING) & (
        GenerationRequest.prompt_claimed_at < now - stale_after
    )
    async with sessionmaker.begin() as session:
        taken = await changed(
            session,
            update(GenerationRequest)
            .where(GenerationRequest.id == request_id, free | stale)
            .values(prompt_provider=PENDING, prompt_claimed_at=now)
            .execution_options(synchronize_session=False),
        )
    return bool(taken)


async def _prompt_of(sessionmaker: async_sessionmaker[AsyncSession], request_id: str) -> str:
    async with sessionmaker() as session:
        prompt = await session.scalar(
            select(GenerationRequest.original_prompt).where(GenerationRequest.id == request_id)
        )
    return prompt or ""


async def _write(
    sessionmaker: async_sessionmaker[AsyncSession],
    request_id: str,
    variants: list[str] | None,
    *,
    provider: str,
    note: str | None,
) -> None:
    async with sessionmaker.begin() as session:
        request = await lock_request(session, request_id)
        if request is None or request.prompt_provider != PENDING:
            return  # deleted meanwhile, or a stale claim that someone else finished
        for index, variant in enumerate(variants or []):
            await session.execute(
                update(GeneratedImage)
                .where(GeneratedImage.request_id == request_id, GeneratedImage.image_index == index)
                .values(image_prompt=variant)
                .execution_options(synchronize_session=False)
            )
        request.prompt_provider, request.prompt_note = provider, note
        touch(request)  # the images' prompts changed: polling clients must see it
    log.info("prompt_variants.written", request_id=request_id, provider=provider)
