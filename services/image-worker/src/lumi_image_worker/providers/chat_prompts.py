"""Prompt variants from any OpenAI-compatible chat endpoint (`POST {base}/chat/completions`):
the model answers `{"variants": [four prompts]}`, validated with pydantic (four, distinct, each
short enough); anything else is a failure the caller turns into the offline variants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import aiohttp
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
)

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.calls import CallLog
from lumi_common.providers.http import Timeouts, error_text, send_json
from lumi_common.providers.prompts import DEFAULT_VARIANT_COUNT, MAX_VARIANT_CHARS, PRINTABLE

SYSTEM_PROMPT = (
    "You write prompts for an image generator whose pictures become 3D-printed objects. "
    f"Given the user's idea, write {DEFAULT_VARIANT_COUNT} clearly different prompts for the same "
    "object: vary the style (stylised figurine, smooth sculpture, detailed statuette, low-poly "
    "toy), not the subject. Keep the user's language. Every prompt must describe "
    f"{PRINTABLE[0].lower()}{PRINTABLE[1:]} Answer with JSON only: "
    '{"variants": ["…", "…", "…", "…"]}.'
)

CHAT_TIMEOUTS = Timeouts(connect=5.0, read=20.0, total=20.0)

Variant = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=MAX_VARIANT_CHARS)
]


class VariantAnswer(BaseModel):
    variants: list[Variant] = Field(
        min_length=DEFAULT_VARIANT_COUNT, max_length=DEFAULT_VARIANT_COUNT
    )

    @field_validator("variants")
    @classmethod
    def _distinct(cls, variants: list[str]) -> list[str]:
        if len({v.casefold() for v in variants}) != len(variants):
            raise ValueError("the variants are not distinct")
        return variants


@dataclass(frozen=True, slots=True)
class ChatPromptVariants:
    base_url: str
    model: str
    calls: CallLog
    api_key: SecretStr | None = None
    timeouts: Timeouts = CHAT_TIMEOUTS
    name: str = "openai"

    async def variants(self, prompt: str, count: int = DEFAULT_VARIANT_COUNT) -> list[str]:
        if count != DEFAULT_VARIANT_COUNT:
            raise ValueError(f"the chat provider writes {DEFAULT_VARIANT_COUNT} variants")
        async with (
            aiohttp.ClientSession() as session,
            self.calls.track("openai-chat", "variants", model=self.model) as call,
        ):
            payload = await self._complete(session, prompt.strip())
            tokens = (payload.get("usage") or {}).get("total_tokens")
            if isinstance(tokens, int):
                call.cost, call.cost_unit = float(tokens), "tokens"
            return parse_variants(payload)

    async def _complete(self, session: aiohttp.ClientSession, prompt: str) -> dict[str, Any]:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": prompt},
            ],
            "response_format": {"type": "json_object"},
            "temperature": 0.8,
        }
        headers = (
            {"Authorization": f"Bearer {self.api_key.get_secret_value()}"} if self.api_key else {}
        )
        url = f"{self.base_url.rstrip('/')}/chat/completions"
        reply = await send_json(
            session, "POST", url, headers=headers, json=body, timeouts=self.timeouts
        )
        if not reply.ok:
            reason = error_text(reply.payload, "error", "message")
            raise PermanentError(f"the chat provider refused ({reply.status}): {reason}")
        return reply.payload


def parse_variants(payload: dict[str, Any]) -> list[str]:
    try:
        content = payload["choices"][0]["message"]["content"]
        return VariantAnswer.model_validate(json.loads(content)).variants
    except (KeyError, IndexError, TypeError, ValueError, ValidationError) as error:
        raise RetryableError(
            f"the chat provider's variants are unusable: {type(error).__name__}"
        ) from error
