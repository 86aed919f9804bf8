"""A job that must come back later to its provider (still working, rate-limited, result to
submit again) says so with a `Wait`; the handler turns it into the runtime's delayed event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lumi_common.errors import PermanentError


@dataclass(frozen=True, slots=True)
class Wait:
    after: timedelta
    values: dict[str, Any] = field(default_factory=dict)  # job columns written with the wait


def one_more_poll(poll_count: int, max_polls: int, *, what: str) -> dict[str, Any]:
    """The job columns of one more poll, or a permanent failure past the limit."""
    polls = poll_count + 1
    if polls > max_polls:
        raise PermanentError(f"{what} did not finish after {max_polls} polls")
    return {"poll_count": polls}
