"""What a handler returns: the outcome of one run of a job, which the runtime records.

A handler returns `Done(...)` when the job is finished, or `Poll(after=...)` when it must come
back later (a provider still working, a rate limit's Retry-After, a result to submit again), and
raises `RetryableError` / `PermanentError` (or anything else, which is retried) when it failed.
The runtime writes each outcome in one transaction with its events, so a handler cannot leave
its job RUNNING by omission.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from lumi_common.db.tables import JobColumns
    from lumi_common.jobs.lifecycle import Claim
    from lumi_common.messages import JobMessage

R = TypeVar("R")
J = TypeVar("J", bound="JobColumns")
M_contra = TypeVar("M_contra", bound="JobMessage", contravariant=True)


class Done(Generic[R]):
    """The job is finished. `result` goes to the worker's completion recorder (an image's
    storage key, a model's files) in the transaction that completes the job; `values` are job
    columns written with the completion. `Done()` is a `Done[None]`: nothing more to record."""

    __slots__ = ("result", "values")

    @overload
    def __init__(self: Done[None], *, values: Mapping[str, Any] | None = None) -> None: ...
    @overload
    def __init__(self, result: R, *, values: Mapping[str, Any] | None = None) -> None: ...
    def __init__(self, result: Any = None, *, values: Mapping[str, Any] | None = None) -> None:
        self.result: R = result
        self.values: Mapping[str, Any] = values or {}

    def __repr__(self) -> str:
        return f"Done({self.result!r}, values={dict(self.values)!r})"


@dataclass(frozen=True, slots=True)
class Poll:
    """Come back `after` this long: the job stays RUNNING without holding a slot, `values` are
    written to its row (progress, a poll count), and a delayed message resumes it."""

    after: timedelta
    values: Mapping[str, Any] = field(default_factory=dict)


Outcome = Done[R] | Poll


class Handler(Protocol[J, M_contra, R]):
    """Runs one job: returns its outcome, or raises RetryableError / PermanentError (anything
    else is retried too, and logged as a crash)."""

    def __call__(self, message: M_contra, claim: Claim[J], /) -> Awaitable[Done[R] | Poll]: ...
