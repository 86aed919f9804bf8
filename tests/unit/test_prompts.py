"""Offline prompt variants: distinct, deterministic, faithful to the prompt, steered to print."""

from __future__ import annotations

import pytest

from lumi_common.providers.prompts import (
    MAX_VARIANT_CHARS,
    OfflinePromptVariants,
    PromptVariants,
)

PROMPT = "一只戴帽子的小猫"


@pytest.fixture
def provider() -> PromptVariants:
    return OfflinePromptVariants()


async def test_four_distinct_variants_that_keep_the_prompt(provider: PromptVariants) -> None:
    variants = await provider.variants(PROMPT)
    assert len(variants) == 4
    assert len(set(variants)) == 4
    assert all(variant.startswith(PROMPT) for variant in variants)
    assert all(len(variant) <= MAX_VARIANT_CHARS for variant in variants)


async def test_variants_are_deterministic(provider: PromptVariants) -> None:
    assert await provider.variants(PROMPT) == await OfflinePromptVariants().variants(PROMPT)


async def test_each_variant_carries_printable_guidance_and_its_own_style(
    provider: PromptVariants,
) -> None:
    variants = await provider.variants("a red dragon")
    for variant in variants:
        lowered = variant.lower()
        for phrase in ("solid", "no thin", "flat base", "matte", "plain light background"):
            assert phrase in lowered
        assert "front view" in lowered or "three-quarter view" in lowered
    styles = ["figurine", "minimalist sculpture", "realistic statuette", "low-poly toy"]
    for variant, style in zip(variants, styles, strict=True):
        assert style in variant


async def test_any_count_gives_distinct_variants(provider: PromptVariants) -> None:
    variants = await provider.variants("a teapot", count=9)
    assert len(set(variants)) == 9
    assert await provider.variants("a teapot", count=1) == variants[:1]


async def test_a_prompt_too_long_to_fit_is_cut_never_the_guidance(
    provider: PromptVariants,
) -> None:
    variants = await provider.variants("猫" * 2000)
    for variant in variants:
        assert len(variant) == MAX_VARIANT_CHARS
        assert variant.endswith("no text.")


async def test_surrounding_whitespace_is_dropped(provider: PromptVariants) -> None:
    assert await provider.variants("  a cat \n") == await provider.variants("a cat")


@pytest.mark.parametrize(("prompt", "count"), [("", 4), ("   ", 4), ("a cat", 0)])
async def test_bad_input_is_refused(provider: PromptVariants, prompt: str, count: int) -> None:
    with pytest.raises(ValueError, match=r"empty|count"):
        await provider.variants(prompt, count)
