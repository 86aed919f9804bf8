"""How a hosted provider's answers map onto the job runtime's two kinds of failure.

The message of a `PermanentError` is what the client sees on its request and model
(`errorMessage`), so refusals say plainly what happened and what to do.
"""

from __future__ import annotations

from lumi_common.errors import PermanentError, RetryableError

REFUSED_MESSAGE = (
    "The generation service refused this picture or prompt under its content policy. "
    "Choose another picture, or start again with a different prompt."
)


class RateLimited(RetryableError):
    """The provider asked us to slow down: try again after `retry_after` seconds."""

    code = "PROVIDER_RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ContentRefused(PermanentError):
    """Moderation: the provider will not generate this, however often we ask."""

    code = "CONTENT_REFUSED"
    client_message = REFUSED_MESSAGE

    def __init__(self, detail: str) -> None:
        super().__init__(REFUSED_MESSAGE)
        self.detail = detail  # the provider's own words, for the log only


class ResultExpired(RetryableError):
    """The provider's result is gone (its URLs or the task expired): submit again."""

    code = "RESULT_EXPIRED"


class ProviderFailed(PermanentError):
    """The provider tried and failed (or cancelled); asking again would not help."""

    code = "PROVIDER_FAILED"
    client_message = (
        "The generation service could not make this one. Try again, or choose another picture."
    )
