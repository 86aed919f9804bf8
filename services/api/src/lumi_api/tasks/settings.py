"""Task settings: the generation quotas (`lumi_api.tasks.quotas`)."""

from __future__ import annotations

from pydantic import Field

from lumi_common.settings import LumiSettings


class QuotaSettings(LumiSettings):
    # tasks one user may create in any 24 hours, and have generating at once (images or model
    # queued or running); admins are exempt; 0 = no limit
    tasks_per_user_per_day: int = Field(default=100, ge=0, le=1_000_000)
    active_tasks_per_user: int = Field(default=10, ge=0, le=100_000)
