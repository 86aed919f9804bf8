"""How often a job may come back to its provider: both workers' `Poll` outcomes count polls
(a provider still working, a rate limit's Retry-After), so one that never finishes still ends."""

from __future__ import annotations

from typing import Any

from lumi_common.errors import PermanentError


def one_more_poll(poll_count: int, max_polls: int, *, what: str) -> dict[str, Any]:
    """The job columns of one more poll, or a permanent failure past the limit."""
    polls = poll_count + 1
    if polls > max_polls:
        raise PermanentError(f"{what} did not finish after {max_polls} polls")
    return {"poll_count": polls}
