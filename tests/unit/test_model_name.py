from __future__ import annotations

import pytest

from lumi_api.tasks.naming import char_width, model_name


@pytest.mark.parametrize(
    ("prompt", "name"),
    [
        ("a cat", "a cat"),
        ("  a \n\t cat  in   a hat ", "a cat in a hat"),
        ("x" * 30, "x" * 30),
        ("x" * 31, "x" * 30 + "..."),
        (
            "a very long prompt about a dragon sitting on a castle",
            "a very long prompt about a dra...",
        ),
        ("一只戴帽子的小猫", "一只戴帽子的小猫"),
        ("猫" * 15, "猫" * 15),
        ("猫" * 16, "猫" * 15 + "..."),
        # a wide character that would cross the limit is left out whole
        ("x" + "猫" * 15, "x" + "猫" * 14 + "..."),
        ("ロボット and 로봇 figurine, tall", "ロボット and 로봇 figurine, ta..."),
        ("ＡＢＣ", "ＡＢＣ"),
    ],
)
def test_model_name_fits_a_display_width_of_30(prompt: str, name: str) -> None:
    assert model_name(prompt) == name


def test_wide_characters_count_two() -> None:
    assert [char_width(c) for c in "a猫カ한Ａ."] == [1, 2, 2, 2, 2, 1]
