"""Task event streams (`GET /tasks/{id}/events`): how often they ping and re-check the database."""

from __future__ import annotations

from pydantic import Field

from lumi_common.settings import LumiSettings


class EventStreamSettings(LumiSettings):
    # a comment line this often keeps proxies and load balancers from closing an idle stream
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    # an open stream reads its task from the database this often even without a change notice
    # (a notice lost to a Redis outage, or a change made by a process that announces nothing)
    sse_recheck_seconds: float = Field(default=30.0, gt=0, le=3600)
