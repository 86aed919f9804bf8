"""The states and kinds the data model knows, with the values the existing clients expect."""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    IMAGE_PENDING = "IMAGE_PENDING"
    IMAGE_GENERATING = "IMAGE_GENERATING"
    IMAGE_COMPLETED = "IMAGE_COMPLETED"
    IMAGE_FAILED = "IMAGE_FAILED"
    MODEL_PENDING = "MODEL_PENDING"
    MODEL_GENERATING = "MODEL_GENERATING"
    MODEL_COMPLETED = "MODEL_COMPLETED"
    MODEL_FAILED = "MODEL_FAILED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class RequestPhase(StrEnum):
    IMAGE_GENERATION = "IMAGE_GENERATION"
    AWAITING_SELECTION = "AWAITING_SELECTION"
    MODEL_GENERATION = "MODEL_GENERATION"
    COMPLETED = "COMPLETED"


class ImageStatus(StrEnum):
    PENDING = "PENDING"
    GENERATING = "GENERATING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    RETRYING = "RETRYING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING)
TERMINAL_JOB_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class ModelSource(StrEnum):
    AI_GENERATED = "AI_GENERATED"
    USER_UPLOADED = "USER_UPLOADED"


class Visibility(StrEnum):
    PRIVATE = "PRIVATE"
    PUBLIC = "PUBLIC"


class PrintStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    SLICING = "SLICING"
    SLICE_COMPLETE = "SLICE_COMPLETE"
    PRINTING = "PRINTING"
    PRINT_COMPLETE = "PRINT_COMPLETE"
    FAILED = "FAILED"


class SliceStatus(StrEnum):
    PENDING = "PENDING"
    FETCHING = "FETCHING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class InteractionType(StrEnum):
    LIKE = "LIKE"
    FAVORITE = "FAVORITE"


class EmailCodePurpose(StrEnum):
    LOGIN = "login"
    REGISTER = "register"
    MODIFY_PASSWORD = "modify_password"  # noqa: S105 - a purpose, not a secret
