"""A worker whose chosen provider has no key refuses to start, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lumi_common.settings import WorkerSettings
from lumi_image_worker.settings import ImageWorkerSettings
from lumi_model_worker.settings import ModelWorkerSettings


@pytest.mark.parametrize(
    ("provider", "variables"),
    [
        ("tripo", "TRIPO_API_KEY"),
        ("meshy", "MESHY_API_KEY"),
        ("hunyuan3d", "TENCENT_SECRET_ID, TENCENT_SECRET_KEY"),
    ],
)
def test_a_3d_provider_needs_its_key(provider: str, variables: str) -> None:
    with pytest.raises(ValidationError, match=f"MODEL_PROVIDER={provider} needs {variables}"):
        ModelWorkerSettings(model_provider=provider)


@pytest.mark.parametrize(
    ("provider", "variables"),
    [("dashscope", "DASHSCOPE_API_KEY"), ("hunyuan", "TENCENT_SECRET_ID, TENCENT_SECRET_KEY")],
)
def test_an_image_provider_needs_its_key(provider: str, variables: str) -> None:
    with pytest.raises(ValidationError, match=f"IMAGE_PROVIDER={provider} needs {variables}"):
        ImageWorkerSettings(image_provider=provider)


def test_offline_needs_nothing_and_keys_stay_secret() -> None:
    assert ModelWorkerSettings().model_provider == "offline"
    settings = ModelWorkerSettings(model_provider="meshy", meshy_api_key="msy_secret")
    assert "msy_secret" not in repr(settings)


def test_docs_and_env_example_list_every_provider_setting() -> None:
    root = Path(__file__).resolve().parents[2]
    docs = (root / "docs" / "configuration.md").read_text()
    example = (root / ".env.example").read_text()
    base = set(WorkerSettings.model_fields)
    for settings in (ImageWorkerSettings, ModelWorkerSettings):
        for name in set(settings.model_fields) - base:
            variable = name.upper()
            assert f"`{variable}`" in docs, variable
            assert (
                variable in example
                or variable.startswith("PROVIDER_HTTP_HOSTS")
                or (variable == "PROVIDER_ALLOW_PRIVATE_ADDRESSES")
            ), variable
