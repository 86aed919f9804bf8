"""How a hosted provider's answers map onto the job runtime's two kinds of failure.

A failure's `client_message` is what the client reads on its request and model
(`errorMessage`, in the reader's language), so refusals say plainly what happened and what to do.
"""

from __future__ import annotations

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.i18n import jobs

REFUSED_MESSAGE = jobs.CONTENT_REFUSED


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
        super().__init__(REFUSED_MESSAGE.render("en"))
        self.detail = detail  # the provider's own words, for the log only


class ResultExpired(RetryableError):
    """The provider's result is gone (its URLs or the task expired): submit again."""

    code = "RESULT_EXPIRED"


class ProviderFailed(PermanentError):
    """The provider tried and failed (or cancelled); asking again would not help."""

    code = "PROVIDER_FAILED"
    client_message = jobs.PROVIDER_FAILED
