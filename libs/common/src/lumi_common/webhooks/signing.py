"""Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature scheme").

A secret is `whsec_` + base64 of random bytes; the key is those bytes. A delivery carries
`webhook-id` (the delivery's id, the same on every attempt, so receivers can drop duplicates),
`webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`:
`v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")). Tests verify these with the
`standardwebhooks` package, an implementation independent of this one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
SECRET_BYTES = 24  # 192 bits (the scheme asks for 24 to 64)


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id=msg_id, timestamp=timestamp, body=body),
    }
