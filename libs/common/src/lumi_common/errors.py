"""Application errors with their HTTP status and stable code, mapped to responses once.

Workers classify failures with `RetryableError` and `PermanentError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from lumi_common.i18n import Message, Renderable, Text, as_renderable
from lumi_common.i18n import http as texts


class AppError(Exception):
    """A client's error: its status, its stable code, and its sentence from the catalogue,
    rendered in the reader's language when the answer is written (`message`)."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[Message] = texts.INTERNAL_ERROR

    def __init__(
        self,
        message: Message | Renderable | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        self.text = as_renderable(message or self.default_message)
        # may hold sentences (`Text`), rendered with the message
        self.details = dict(details) if details else None
        self.headers = dict(headers) if headers else {}  # sent with the response (Retry-After)
        super().__init__(str(self.text))

    @property
    def message(self) -> str:
        """The sentence in the current reader's language."""
        return self.text.render()


class BadRequest(AppError):
    status, code, default_message = 400, "BAD_REQUEST", texts.BAD_REQUEST


class ValidationFailed(BadRequest):
    code, default_message = "VALIDATION_ERROR", texts.INVALID_INPUT


class Unauthorized(AppError):
    status, code, default_message = 401, "UNAUTHORIZED", texts.UNAUTHORIZED


class Forbidden(AppError):
    status, code, default_message = 403, "FORBIDDEN", texts.FORBIDDEN


class NotFound(AppError):
    status, code, default_message = 404, "NOT_FOUND", texts.NOT_FOUND


class MethodNotAllowed(AppError):
    status, code, default_message = 405, "METHOD_NOT_ALLOWED", texts.METHOD_NOT_ALLOWED


class Conflict(AppError):
    status, code, default_message = 409, "CONFLICT", texts.CONFLICT


class InvalidState(Conflict):
    code, default_message = "INVALID_STATE", texts.INVALID_STATE


class PayloadTooLarge(AppError):
    status, code, default_message = 413, "PAYLOAD_TOO_LARGE", texts.PAYLOAD_TOO_LARGE


class RateLimited(AppError):
    status, code, default_message = 429, "RATE_LIMITED", texts.RATE_LIMITED


class NotImplementedYet(AppError):
    status, code, default_message = 501, "NOT_IMPLEMENTED", texts.NOT_IMPLEMENTED


class ServiceUnavailable(AppError):
    status, code, default_message = 503, "SERVICE_UNAVAILABLE", texts.SERVICE_UNAVAILABLE


class CommitOutcomeUnknown(ServiceUnavailable):
    """The connection broke while the database was committing: the change may or may not have
    been made, so running it again could make it twice (a toggle flipped back, a delete that
    answers 404). The client reads the resource before deciding to try again."""

    code = "COMMIT_OUTCOME_UNKNOWN"
    default_message = texts.COMMIT_OUTCOME_UNKNOWN


class JobError(Exception):
    """Base of the errors a job handler raises to steer retries."""

    code: ClassVar[str] = "JOB_ERROR"
    # a fixed sentence safe to show the client when this error ends the job (no provider text);
    # None: the client gets the failure's generic sentence
    client_message: ClassVar[Message | None] = None

    def __init__(self, *args: object, client: Text | None = None) -> None:
        super().__init__(*args)
        # this failure's own catalogue sentence, with its values (a time limit, a reason), shown
        # to the client instead of its code's `client_message`; the exception's text stays the
        # operators'
        self.client = client


class RetryableError(JobError):
    """A transient failure: the job is retried with backoff until its attempts run out."""

    code = "RETRYABLE"


class PermanentError(JobError):
    """A failure that retrying cannot fix: the job fails and goes to the dead-letter stream."""

    code = "PERMANENT"
