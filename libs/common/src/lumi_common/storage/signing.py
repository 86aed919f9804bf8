"""Short-lived signed file URLs served by the API: `/files/<key>?exp=<unix seconds>&sig=<mac>`.

The MAC is HMAC-SHA256 over the key and the expiry, keyed with a key derived from
`FILE_URL_SECRET` (so the secret itself never signs anything else). Only key and expiry are
signed, not the host or the path prefix: the same signature is valid under `/files/` and
`/api/proxy/files/`, and behind any public base URL. A leaked URL opens one file until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from enum import StrEnum
from urllib.parse import quote

_PURPOSE = b"lumi file url v1"


class Signature(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"
    ABSENT = "absent"


class FileSigner:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()

    def query(self, key: str, *, expires_in: float, now: float | None = None, step: int = 1) -> str:
        """`exp=…&sig=…` for `key`, valid at least `expires_in` seconds from now. The expiry
        is rounded up to a multiple of `step`: within a step the URL is the same, so a page
        that names a file twice (or a browser that loads it again) gets one URL, one cache."""
        at = (time.time() if now is None else now) + expires_in
        expires_at = -(-int(at) // step) * step
        return f"exp={expires_at}&sig={self._mac(key, expires_at)}"

    def url(self, files_url: str, key: str, *, expires_in: float, step: int = 1) -> str:
        """`files_url` is where the API serves files, ending with `/` (`https://host/files/`)."""
        query = self.query(key, expires_in=expires_in, step=step)
        return f"{files_url}{quote(key, safe='/')}?{query}"

    def check(
        self, key: str, exp: str | None, sig: str | None, *, now: float | None = None
    ) -> Signature:
        if exp is None and sig is None:
            return Signature.ABSENT
        if exp is None or sig is None or not exp.isdigit() or len(exp) > 12:
            return Signature.INVALID
        if not hmac.compare_digest(self._mac(key, int(exp)), sig):
            return Signature.INVALID
        if int(exp) < (time.time() if now is None else now):
            return Signature.EXPIRED
        return Signature.VALID

    def _mac(self, key: str, expires_at: int) -> str:
        message = f"{key}\n{expires_at}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
