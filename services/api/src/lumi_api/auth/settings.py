"""Login codes by e-mail: their lifetime, wrong tries, and how often they may be requested."""

from __future__ import annotations

from pydantic import Field

from lumi_common.settings import LumiSettings


class LoginCodeSettings(LumiSettings):
    login_code_ttl_seconds: int = Field(default=600, ge=60, le=86400)
    # the wrong try of the client that asked for the code that reaches this number locks the
    # code; only a new code helps then (other clients' tries are slowed, see `attempts`)
    login_code_max_attempts: int = Field(default=5, ge=1, le=100)
    # per address from one client: at most one code per interval (0 = no interval) and so many
    # per hour; from all clients together, at most so many per hour
    send_code_interval_seconds: int = Field(default=60, ge=0, le=3600)
    send_code_per_address_per_hour: int = Field(default=5, ge=1, le=1000)
    send_code_per_address_all_clients_per_hour: int = Field(default=15, ge=1, le=10_000)
    # per client address (see TRUSTED_PROXY_HOPS)
    send_code_per_ip_per_hour: int = Field(default=20, ge=1, le=100_000)
    # wrong codes (login, register) are counted over this window, per address from one client,
    # per client, and per address from all clients; past a scope's free failures each further
    # try waits 1 s, 2 s, 4 s … after that scope's last failure, at most the maximum
    login_failure_window_seconds: int = Field(default=86400, ge=60, le=30 * 86400)
    login_failures_free_per_client_and_address: int = Field(default=5, ge=1, le=1000)
    login_failures_free_per_client: int = Field(default=20, ge=1, le=100_000)
    login_failures_free_per_address: int = Field(default=10, ge=1, le=100_000)
    login_backoff_max_seconds: int = Field(default=900, ge=1, le=86400)
