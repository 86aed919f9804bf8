"""TC3-HMAC-SHA256 against the example published with Tencent Cloud's signing documentation
(API 3.0 "Signature v3": CVM DescribeInstances, timestamp 1551113065)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from lumi_common.errors import PermanentError, RetryableError
from lumi_common.providers.errors import ContentRefused, RateLimited, ResultExpired
from lumi_common.providers.tencent import Credentials, authorization, error_for

# the documentation's demonstration key pair and request
EXAMPLE = Credentials(
    secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
    secret_key=SecretStr("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
)
PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def test_the_published_example_signs_to_the_published_signature() -> None:
    header = authorization(
        EXAMPLE,
        host="cvm.tencentcloudapi.com",
        service="cvm",
        payload=PAYLOAD,
        timestamp=1551113065,
    )
    assert header == (
        "TC3-HMAC-SHA256 "
        "Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={SIGNATURE}"
    )


def test_the_date_is_the_utc_date_of_the_timestamp() -> None:
    # 2019-02-26 00:44:25 in UTC+8 is still the 25th in UTC
    header = authorization(EXAMPLE, host="h", service="cvm", payload=b"{}", timestamp=1551113065)
    assert "/2019-02-25/cvm/" in header


def test_any_change_to_the_request_changes_the_signature() -> None:
    base = {
        "host": "cvm.tencentcloudapi.com",
        "service": "cvm",
        "payload": PAYLOAD,
        "timestamp": 1551113065,
    }
    reference = authorization(EXAMPLE, **base)  # type: ignore[arg-type]
    for change in (
        {"payload": PAYLOAD + b" "},
        {"timestamp": 1551113066},
        {"service": "ai3d"},
        {"host": "x"},
    ):
        assert authorization(EXAMPLE, **{**base, **change}) != reference  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("OperationDenied.ImageIllegalDetected", ContentRefused),
        ("OperationDenied.TextIllegalDetected", ContentRefused),
        ("RequestLimitExceeded", RateLimited),
        ("RequestLimitExceeded.UinLimitExceeded", RateLimited),
        ("InternalError", RetryableError),
        ("ResourceNotFound", ResultExpired),
        ("AuthFailure.SignatureFailure", PermanentError),
        ("InvalidParameterValue", PermanentError),
    ],
)
def test_error_codes_map_to_the_runtime_classes(code: str, kind: type[Exception]) -> None:
    assert type(error_for(code, "message")) is kind
