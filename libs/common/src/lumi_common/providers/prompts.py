"""Prompt variants: one user prompt becomes several image prompts steered toward printable objects.

Free of heavy imports, so any service may use it.
"""

from __future__ import annotations

from typing import Protocol

DEFAULT_VARIANT_COUNT = 4
MAX_VARIANT_CHARS = 1000

# Each style is a different axis (form language, level of detail, proportions), so the four
# candidates differ in more than wording and the user gets a real choice.
STYLES = (
    "Style: a chunky stylised figurine with bold simplified forms, thick limbs and "
    "slightly exaggerated proportions.",
    "Style: a smooth minimalist sculpture with flowing continuous surfaces and few, "
    "softly rounded details.",
    "Style: a detailed realistic statuette with natural proportions and fine surface "
    "detail kept shallow and robust.",
    "Style: a cute low-poly toy with crisp flat facets, a rounded silhouette and "
    "playful proportions.",
)
VIEWS = ("Three-quarter view.", "Front view.")
# What makes a picture a good source for a 3D model that survives printing.
PRINTABLE = (
    "One single solid object meant for 3D printing: no thin, fragile or floating parts, "
    "standing on a stable flat base, matte material, evenly lit, whole object in frame, "
    "centred on a plain light background, no text."
)


class PromptVariants(Protocol):
    async def variants(self, prompt: str, count: int = DEFAULT_VARIANT_COUNT) -> list[str]: ...


class OfflinePromptVariants:
    """Deterministic variants built from fixed style templates, with no model behind them."""

    async def variants(self, prompt: str, count: int = DEFAULT_VARIANT_COUNT) -> list[str]:
        text = prompt.strip()
        if not text:
            raise ValueError("the prompt is empty")
        if count < 1:
            raise ValueError("count must be at least 1")
        return [_variant(text, index) for index in range(count)]


def _variant(prompt: str, index: int) -> str:
    """The `index`-th variant; indexes past the style list repeat a style with a new take."""
    rounds, style = divmod(index, len(STYLES))
    view = VIEWS[index % len(VIEWS)]
    take = f" Alternative take {rounds + 1}." if rounds else ""
    guidance = f"\n\n{STYLES[style]} {view}{take} {PRINTABLE}"
    # The prompt is kept verbatim; only one too long to fit is cut, never the guidance.
    return prompt[: MAX_VARIANT_CHARS - len(guidance)] + guidance
