"""Login codes by e-mail: their lifetime, wrong tries, and how often they may be requested."""

from __future__ import annotations

from pydantic import Field

from lumi_common.settings import LumiSettings


class LoginCodeSettings(LumiSettings):
    login_code_ttl_seconds: int = Field(default=600, ge=60, le=86400)
    # the wrong try that reaches this number locks the code; only a new code helps then
    login_code_max_attempts: int = Field(default=5, ge=1, le=100)
    # per address: at most one code per interval (0 = no interval) and so many per hour
    send_code_interval_seconds: int = Field(default=60, ge=0, le=3600)
    send_code_per_address_per_hour: int = Field(default=5, ge=1, le=1000)
    # per client address (see TRUSTED_PROXY_HOPS)
    send_code_per_ip_per_hour: int = Field(default=20, ge=1, le=100_000)
