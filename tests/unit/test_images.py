"""Offline images: real PNGs, the same for the same prompt and seed, different between variants."""

from __future__ import annotations

import io
import itertools

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from lumi_common.providers.prompts import OfflinePromptVariants
from lumi_image_worker.providers.images import (
    GeneratedImage,
    ImageGenerator,
    InstantImageGenerator,
    OfflineImageGenerator,
)

# mean absolute difference per channel (0–255) that two candidates must exceed; the variants
# of several prompts measured 12 to 30
MIN_VARIANT_DIFFERENCE = 8.0


def pixels(image: GeneratedImage) -> npt.NDArray[np.float64]:
    with Image.open(io.BytesIO(image.data)) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.float64)


@pytest.fixture
def generator() -> ImageGenerator:
    return OfflineImageGenerator()


async def test_a_1024_png_of_an_object_on_a_light_background(generator: ImageGenerator) -> None:
    image = await generator.generate("一只戴帽子的小猫", seed=1)
    assert (image.content_type, image.provider) == ("image/png", "offline")
    with Image.open(io.BytesIO(image.data)) as decoded:
        assert decoded.format == "PNG"
        assert decoded.size == (1024, 1024)
        assert decoded.mode in {"RGB", "RGBA"}
    rgb = pixels(image)
    corners = [rgb[:32, :32], rgb[:32, -32:], rgb[-32:, :32], rgb[-32:, -32:]]
    assert all(corner.mean() > 190 for corner in corners)
    assert rgb.std() > 20  # not a blank canvas


async def test_same_prompt_and_seed_give_identical_bytes(generator: ImageGenerator) -> None:
    first = await generator.generate("a red dragon", seed=42)
    again = await OfflineImageGenerator().generate("a red dragon", seed=42)
    assert first.data == again.data


async def test_seed_alone_changes_the_picture(generator: ImageGenerator) -> None:
    one = await generator.generate("a red dragon", seed=1)
    two = await generator.generate("a red dragon", seed=2)
    assert np.abs(pixels(one) - pixels(two)).mean() > MIN_VARIANT_DIFFERENCE


@pytest.mark.parametrize("prompt", ["一只戴帽子的小猫", "a chess knight", "x"])
async def test_the_four_candidates_differ_substantially(
    generator: ImageGenerator, prompt: str
) -> None:
    variants = await OfflinePromptVariants().variants(prompt)
    images = [
        pixels(await generator.generate(variant, seed=index))
        for index, variant in enumerate(variants)
    ]
    for first, second in itertools.combinations(images, 2):
        assert np.abs(first - second).mean() > MIN_VARIANT_DIFFERENCE


async def test_instant_generator_returns_a_valid_png() -> None:
    image = await InstantImageGenerator().generate("anything", seed=0)
    assert (image.content_type, image.provider) == ("image/png", "instant")
    with Image.open(io.BytesIO(image.data)) as decoded:
        decoded.verify()
    with Image.open(io.BytesIO(image.data)) as decoded:
        assert decoded.format == "PNG"
        decoded.load()
