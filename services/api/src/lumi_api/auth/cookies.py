"""The browser session cookie: the bearer token, signed with COOKIE_SECRET (itsdangerous).

The token alone would do (it is unguessable and looked up by hash); the signature lets a forged
or altered cookie be refused without a query. HttpOnly keeps it from scripts, SameSite=Lax keeps
it off cross-site POSTs, Secure in production keeps it off plain HTTP.
"""

from __future__ import annotations

import hashlib

from aiohttp import web
from itsdangerous import BadSignature, Signer

SESSION_COOKIE = "lumi_session"
# a distinct salt: a signature made for anything else with the same secret is not a session
_SALT = "lumi.session-cookie.v1"
# a longer cookie cannot be a signed token: refuse it without verifying
_MAX_COOKIE_CHARS = 512


class SessionCookies:
    def __init__(self, secret: str, *, secure: bool, max_age_seconds: int) -> None:
        self._signer = Signer(secret, salt=_SALT, digest_method=hashlib.sha256)
        self.secure = secure
        self.max_age_seconds = max_age_seconds

    def token(self, request: web.Request) -> str | None:
        """The token in the request's session cookie, or None when absent or tampered with."""
        value = request.cookies.get(SESSION_COOKIE)
        if not value or len(value) > _MAX_COOKIE_CHARS:
            return None
        try:
            return self._signer.unsign(value).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    def set(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self._signer.sign(token).decode(),
            max_age=self.max_age_seconds,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.secure,
        )

    def clear(self, response: web.StreamResponse) -> None:
        response.del_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="Lax", secure=self.secure
        )
