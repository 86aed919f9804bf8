"""Application errors with their HTTP status and stable code, mapped to responses once.

Workers classify failures with `RetryableError` and `PermanentError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        self.message = message or self.default_message
        self.details = dict(details) if details else None
        self.headers = dict(headers) if headers else {}  # sent with the response (Retry-After)
        super().__init__(self.message)


class BadRequest(AppError):
    status, code, default_message = 400, "BAD_REQUEST", "Bad request"


class ValidationFailed(BadRequest):
    code, default_message = "VALIDATION_ERROR", "Invalid input"


class Unauthorized(AppError):
    status, code, default_message = 401, "UNAUTHORIZED", "Authentication required"


class Forbidden(AppError):
    status, code, default_message = 403, "FORBIDDEN", "Not allowed"


class NotFound(AppError):
    status, code, default_message = 404, "NOT_FOUND", "Not found"


class MethodNotAllowed(AppError):
    status, code, default_message = 405, "METHOD_NOT_ALLOWED", "Method not allowed"


class Conflict(AppError):
    status, code, default_message = 409, "CONFLICT", "Conflict"


class InvalidState(Conflict):
    code, default_message = "INVALID_STATE", "The resource is not in a state that allows this"


class PayloadTooLarge(AppError):
    status, code, default_message = 413, "PAYLOAD_TOO_LARGE", "Request body too large"


class RateLimited(AppError):
    status, code, default_message = 429, "RATE_LIMITED", "Too many requests"


class NotImplementedYet(AppError):
    status, code, default_message = 501, "NOT_IMPLEMENTED", "Not implemented"


class ServiceUnavailable(AppError):
    status, code, default_message = 503, "SERVICE_UNAVAILABLE", "Service unavailable"


class CommitOutcomeUnknown(ServiceUnavailable):
    """The connection broke while the database was committing: the change may or may not have
    been made, so running it again could make it twice (a toggle flipped back, a delete that
    answers 404). The client reads the resource before deciding to try again."""

    code = "COMMIT_OUTCOME_UNKNOWN"
    default_message = (
        "The connection to the database broke while saving: the change may or may not have been"
        " made. Read the resource before trying again"
    )


class JobError(Exception):
    """Base of the errors a job handler raises to steer retries."""

    code: ClassVar[str] = "JOB_ERROR"
    # a fixed sentence safe to show the client when this error ends the job (no provider text);
    # None: the client gets the failure's generic sentence
    client_message: ClassVar[str | None] = None


class RetryableError(JobError):
    """A transient failure: the job is retried with backoff until its attempts run out."""

    code = "RETRYABLE"


class PermanentError(JobError):
    """A failure that retrying cannot fix: the job fails and goes to the dead-letter stream."""

    code = "PERMANENT"
