"""Every sentence the auth routes show a client, in one place (a message catalogue can take them
over from here). `{wait}` is replaced by `duration(seconds)`."""

from __future__ import annotations

import math

# one answer for every refused code — wrong, expired, used, locked, or never sent — so that
# login does not tell whether an address ever received a code (the reason goes to the log)
CODE_REFUSED = "The code is wrong or has expired; request a new code"
LOGIN_SLOWED = "Too many wrong codes; try again in {wait}"
LOGIN_UNAVAILABLE = "Login is unavailable for a moment; please try again"
SEND_CODE_INTERVAL = "A code was just sent to this address; wait {wait} before asking again"
SEND_CODE_ADDRESS = "Too many codes were requested for this address; try again in {wait}"
SEND_CODE_NETWORK = "Too many codes were requested from this network; try again in {wait}"


def duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
