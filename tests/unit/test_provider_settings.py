"""The settings every hosted provider call goes by: limits, hosts, and what production refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lumi_common.providers.settings import MIB, ProviderSettings


def test_a_download_policy_joins_the_providers_hosts_and_the_configured_ones() -> None:
    settings = ProviderSettings(
        provider_result_hosts="cdn.example.com, files.example.org",
        provider_download_max_mb=5,
        provider_read_timeout_seconds=7,
    )
    policy = settings.download_policy(frozenset({"meshy.ai"}))
    assert policy.allowed_hosts == {"meshy.ai", "cdn.example.com", "files.example.org"}
    assert policy.max_bytes == 5 * MIB
    assert policy.timeouts.read == 7
    assert not policy.allow_private
    assert not policy.http_hosts


def test_production_refuses_what_only_tests_need() -> None:
    for unsafe in ({"provider_allow_private_addresses": True}, {"provider_http_hosts": "x"}):
        with pytest.raises(ValidationError, match="for tests"):
            ProviderSettings(app_env="production", **unsafe)
    assert ProviderSettings(app_env="test", provider_allow_private_addresses=True)


def test_tencent_credentials_are_required_together() -> None:
    with pytest.raises(ValueError, match="TENCENT_SECRET_ID"):
        ProviderSettings(tencent_secret_id="AKID").tencent_credentials()
