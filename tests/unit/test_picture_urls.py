"""When the model worker gives a hosted provider the chosen picture by URL instead of inline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lumi_common.storage import LocalStorage, S3Storage, Storage
from lumi_model_worker.service import picture_url_seconds
from lumi_model_worker.settings import ModelWorkerSettings

HOSTED = {"model_provider": "meshy", "meshy_api_key": "k"}


def settings(**values: Any) -> ModelWorkerSettings:
    return ModelWorkerSettings(**{**HOSTED, **values})


@pytest.fixture
def local(tmp_path: Path) -> Storage:
    return LocalStorage(tmp_path)


def test_on_s3_a_presigned_url(local: Storage) -> None:
    s3 = object.__new__(S3Storage)  # only its type matters here
    assert picture_url_seconds(settings(), s3) == 30 * 60
    assert picture_url_seconds(settings(model_image_url_minutes=5), s3) == 5 * 60
    assert picture_url_seconds(settings(model_image_url_minutes=0), s3) is None


def test_on_a_local_folder_only_when_the_api_is_public(local: Storage) -> None:
    assert picture_url_seconds(settings(), local) is None  # 127.0.0.1: no provider reaches it
    public = settings(public_base_url="https://api.example.com")
    assert picture_url_seconds(public, local) == 30 * 60
    # production signs only with FILE_URL_SECRET
    production = {"app_env": "production", "public_base_url": "https://api.example.com"}
    assert picture_url_seconds(settings(**production), local) is None
    signing = settings(**production, file_url_secret="Fz8_Lq2-Rw5tY9uP3oI7kJ1hG4dS6aM0x")
    assert picture_url_seconds(signing, local) == 30 * 60


def test_never_for_the_offline_generator(local: Storage) -> None:
    offline = ModelWorkerSettings(model_provider="offline", public_base_url="https://a.example")
    assert picture_url_seconds(offline, local) is None
