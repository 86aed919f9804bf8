"""How a slice fails: a code per kind of failure (the job row's `error_code`, the dead letter's),
the raw English sentence for operators (the exception's text, which may quote the slicer), and
the catalogue sentence the client reads (`client`, `lumi_common.i18n.slices`), recorded by the
runtime as a stored reference and rendered in the reader's language."""

from __future__ import annotations

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.i18n import Text
from lumi_common.i18n import slices as texts


class ModelNotSliceable(PermanentError):
    """Nothing printable comes out of this model: `reason` is one of the catalogue's reasons,
    `detail` what only operators read (the slicer's last line)."""

    code = "SLICE_MODEL_UNPRINTABLE"

    def __init__(self, reason: Text, detail: str | None = None) -> None:
        client = texts.CANNOT_SLICE(reason=reason)
        super().__init__(f"{client}: {detail}" if detail else str(client), client=client)


class SliceSourceMissing(PermanentError):
    """The model or its file to slice is gone."""

    code = "SLICE_SOURCE_MISSING"

    def __init__(self, raw: str, client: Text) -> None:
        super().__init__(raw, client=client)


class SliceProfileUnavailable(PermanentError):
    """A profile this worker no longer ships."""

    code = "SLICE_PROFILE_UNAVAILABLE"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"the slicing profile {name!r} is not available",
            client=texts.PROFILE_UNAVAILABLE(profile=name),
        )


class SlicerTimedOut(RetryableError):
    """Killed at the time limit; another attempt, maybe on a quieter machine, may finish."""

    code = "SLICER_TIMED_OUT"

    def __init__(self, seconds: float) -> None:
        client = texts.TIMED_OUT(seconds=f"{seconds:g}")
        super().__init__(str(client), client=client)


class SlicerFailed(RetryableError):
    """The slicer could not start, crashed or failed in a way it did not explain: the client
    reads the generic sentence, operators the slicer's own words."""

    code = "SLICER_FAILED"
    client_message = texts.FAILED
