"""Tencent Cloud API 3.0: TC3-HMAC-SHA256 signing and one JSON call with its errors classified.

Written from the documented signing algorithm ("Signature v3": canonical request → string to
sign → HMAC chain over date, service and `tc3_request`); the unit test checks it against the
documentation's published example. Used by Hunyuan images and Hunyuan 3D alike.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import SecretStr
from yarl import URL

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.errors import ContentRefused, RateLimited, ResultExpired
from lumi_common.providers.http import Timeouts, send_json

ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED_HEADERS = "content-type;host"
# Tencent answers its own rate limits with HTTP 200 and an error code, without Retry-After
RATE_LIMIT_WAIT_SECONDS = 5.0
_RATE_LIMITED = (
    "RequestLimitExceeded",
    "LimitExceeded",
    "FailedOperation.EngineServerLimitExceeded",
)
_TRANSIENT = (
    "InternalError",
    "FailedOperation.EngineServerError",
    "FailedOperation.EngineRequestTimeout",
)
_REFUSED = ("OperationDenied.ImageIllegalDetected", "OperationDenied.TextIllegalDetected")


@dataclass(frozen=True, slots=True)
class Credentials:
    secret_id: str
    secret_key: SecretStr


def authorization(
    credentials: Credentials,
    *,
    host: str,
    service: str,
    payload: bytes,
    timestamp: int,
    content_type: str = CONTENT_TYPE,
) -> str:
    """The `Authorization` header of a POST of `payload` to `host` at `timestamp` (UTC)."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            SIGNED_HEADERS,
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(f"TC3{credentials.secret_key.get_secret_value()}".encode(), date)
    key = _hmac(_hmac(key, service), "tc3_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={credentials.secret_id}/{scope}, "
        f"SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
    )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class TencentApi:
    """One product's endpoint, e.g. `https://ai3d.tencentcloudapi.com`, service `ai3d`."""

    base_url: str
    service: str
    version: str
    region: str
    credentials: Credentials
    timeouts: Timeouts

    async def call(
        self, session: aiohttp.ClientSession, action: str, params: Mapping[str, Any], *, now: int
    ) -> dict[str, Any]:
        """`Response` of the action; Tencent's error codes raised as ours."""
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode()
        host = host_header(URL(self.base_url))
        headers = {
            "Authorization": authorization(
                self.credentials, host=host, service=self.service, payload=body, timestamp=now
            ),
            "Content-Type": CONTENT_TYPE,
            "X-TC-Action": action,
            "X-TC-Version": self.version,
            "X-TC-Timestamp": str(now),
            "X-TC-Region": self.region,
        }
        reply = await send_json(
            session, "POST", self.base_url, headers=headers, data=body, timeouts=self.timeouts
        )
        response = reply.payload.get("Response")
        if not isinstance(response, dict):
            raise RetryableError(f"{self.service} answered without a Response")
        raise_for_error(response)
        return response


def host_header(url: URL) -> str:
    """The Host header as it goes out (and is signed): the port only when it is not the
    scheme's default (the real endpoints use 443; emulators in tests do not)."""
    host = url.raw_host or ""
    return host if url.is_default_port() else f"{host}:{url.port}"


def raise_for_error(response: Mapping[str, Any]) -> None:
    error = response.get("Error")
    if not isinstance(error, dict):
        return
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))[:300]
    raise error_for(code, message)


def error_for(code: str, message: str) -> Exception:
    if code.startswith(_RATE_LIMITED):
        return RateLimited(
            f"Tencent Cloud rate limit ({code})", retry_after=RATE_LIMIT_WAIT_SECONDS
        )
    if code.startswith(_REFUSED):
        return ContentRefused(f"Tencent Cloud refused the content ({code})")
    if code.startswith("ResourceNotFound"):
        return ResultExpired(f"Tencent Cloud no longer knows the job ({code})")
    if code.startswith(_TRANSIENT):
        return RetryableError(f"Tencent Cloud error {code}: {message}")
    return PermanentError(f"Tencent Cloud error {code}: {message}")
