"""Webhook settings shared by the API (checking URLs) and the webhook worker (delivering)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from lumi_common.settings import LumiSettings


class WebhookSettings(LumiSettings):
    # deliveries to loopback, private and reserved addresses (tests, local development only)
    webhook_allow_private: bool = False
    # endpoints one user may register
    webhook_max_endpoints: int = Field(default=20, ge=1, le=1000)

    @model_validator(mode="after")
    def _no_private_deliveries_in_production(self) -> Self:
        if self.is_production and self.webhook_allow_private:
            raise ValueError("WEBHOOK_ALLOW_PRIVATE=true is refused in production (SSRF)")
        return self
