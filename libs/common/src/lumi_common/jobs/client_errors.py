"""What a client is told when a job fails: a fixed sentence, never the exception's own text
(paths, SQL, a provider's raw answer). The raw error stays in the job row, the dead letter and
the log, where operators look.

A failure is known to the client by its code (a `JobError`'s `code`, else the exception's class
name). An error class with a code of its own says what its failure means with `client_message`
(the hosted providers' moderation refusal does); one failure may say it with its own values
(`JobError(..., client=Text)`: the slicer's time limit, why a model cannot be sliced); any other
failure gets its job kind's generic sentence (`JobKind.failed_message`, `GENERIC` unless the kind
says otherwise).
"""

from __future__ import annotations

from lumi_common.errors import JobError
from lumi_common.i18n import Message, jobs

# importing it registers the provider errors' sentences for `for_code`
from lumi_common.providers import errors as _provider_errors  # noqa: F401

GENERIC = jobs.GENERATION_FAILED


def for_code(code: str | None, generic: Message = GENERIC) -> Message:
    """The sentence for a failure's code (a dead letter's, or a job row's `error_code`);
    `generic` (the job kind's) for a code without one."""
    return _by_code().get(code or "", generic)


def _by_code() -> dict[str, Message]:
    found: dict[str, Message] = {}
    pending: list[type[JobError]] = [JobError]
    while pending:
        cls = pending.pop()
        # only a class naming its own code: a sentence must not spread to its parent's code
        if cls.client_message and "code" in vars(cls):
            found[cls.code] = cls.client_message
        pending.extend(cls.__subclasses__())
    return found
