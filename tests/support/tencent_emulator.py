"""Tencent Cloud API 3.0 as documented, for Hunyuan 3D (`ai3d`, 2025-05-13:
SubmitHunyuanTo3DProJob / QueryHunyuanTo3DProJob, WAIT/RUN/FAIL/DONE) and Hunyuan images
(`hunyuan`, 2023-09-01: SubmitHunyuanImageJob / QueryHunyuanImageJob, status codes 1/2/4/5).

Every request must carry a valid TC3-HMAC-SHA256 signature, checked here by an implementation
of its own (so a signing bug in the worker cannot hide behind the same bug here). Errors are
HTTP 200 with `Response.Error`, rate limits included, as Tencent answers them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.support.provider_emulation import Emulation, Task, fetch_picture, png_bytes_of

SECRET_ID = "AKIDtestsecretid0123456789"
SECRET_KEY = "test-secret-key-0123456789"
CREDITS_PER_MODEL = 20.0
_AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z0-9]+)"
    r"/tc3_request, SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def expected_signature(
    request: web.Request, body: bytes, date: str, service: str, signed: str
) -> str:
    names = signed.split(";")
    headers = "".join(f"{name}:{request.headers.get(name, '').strip().lower()}\n" for name in names)
    canonical = f"POST\n/\n\n{headers}\n{signed}\n{hashlib.sha256(body).hexdigest()}"
    timestamp = request.headers.get("X-TC-Timestamp", "")
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{digest}"
    key = ("TC3" + SECRET_KEY).encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def tencent_error(code: str, message: str) -> web.Response:
    return web.json_response(
        {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}
    )


def answer(**fields: Any) -> web.Response:
    return web.json_response({"Response": {**fields, "RequestId": str(uuid.uuid4())}})


@dataclass
class TencentEmulator:
    """One endpoint answering both products, told apart by the signed service name."""

    emulation: Emulation = field(default_factory=Emulation)
    images: list[bytes] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    regions: set[str] = field(default_factory=set)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self.dispatch)
        self.emulation.add_result_route(app)
        app.router.add_get("/images/{task_id}/{name}", self.image)
        return app

    async def dispatch(self, request: web.Request) -> web.Response:
        body = await request.read()
        refused = self.check_signature(request, body)
        if refused:
            return refused
        self.regions.add(request.headers.get("X-TC-Region", ""))
        action = request.headers.get("X-TC-Action", "")
        handler = {
            "SubmitHunyuanTo3DProJob": self.submit_3d,
            "QueryHunyuanTo3DProJob": self.query_3d,
            "SubmitHunyuanImageJob": self.submit_image,
            "QueryHunyuanImageJob": self.query_image,
        }.get(action)
        if handler is None:
            return tencent_error("InvalidAction", f"unknown action {action!r}")
        limited = tencent_error("RequestLimitExceeded", "Your request rate is too high")
        if trouble := await self.emulation.trouble(action, rate_limit=limited):
            return trouble
        return await handler(json.loads(body))

    def check_signature(self, request: web.Request, body: bytes) -> web.Response | None:
        match = _AUTH.match(request.headers.get("Authorization", ""))
        if match is None or match["id"] != SECRET_ID:
            return tencent_error("AuthFailure.SecretIdNotFound", "the SecretId is not found")
        timestamp = int(request.headers.get("X-TC-Timestamp", "0"))
        if abs(time.time() - timestamp) > 300:
            return tencent_error("AuthFailure.SignatureExpire", "the signature expired")
        utc_date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        expected = expected_signature(
            request, body, match["date"], match["service"], match["headers"]
        )
        if match["date"] != utc_date or not hmac.compare_digest(expected, match["signature"]):
            return tencent_error("AuthFailure.SignatureFailure", "the signature is wrong")
        return None

    # -- Hunyuan 3D ---------------------------------------------------------------------------

    async def submit_3d(self, params: dict[str, Any]) -> web.Response:
        if not params.get("ImageBase64") and not params.get("ImageUrl"):
            return tencent_error("InvalidParameter", "ImageBase64 or ImageUrl is required")
        if params.get("ImageBase64"):
            self.images.append(base64.b64decode(params["ImageBase64"]))
        else:  # the service downloads ImageUrl
            picture = await fetch_picture(str(params["ImageUrl"]))
            if picture is None:
                return tencent_error("InvalidParameter", "ImageUrl cannot be downloaded")
            self.images.append(picture)
        return answer(JobId=self.emulation.new_task(params).id)

    async def query_3d(self, params: dict[str, Any]) -> web.Response:
        task = self.emulation.tasks.get(str(params.get("JobId")))
        if task is None:
            return tencent_error("ResourceNotFound", "the job does not exist")
        state = self.emulation.advance(task)
        if state == "expired":
            return tencent_error("ResourceNotFound", "the job expired")
        if state in ("failed", "refused"):
            code = "OperationDenied.ImageIllegalDetected" if state == "refused" else "InternalError"
            return answer(Status="FAIL", ErrorCode=code, ErrorMessage="the job failed")
        if state == "running":
            return answer(Status="RUN" if task.polls > 1 else "WAIT", ResultFile3Ds=[])
        files = [
            {"Type": "OBJ", "Url": self.emulation.result_url(task, "model.zip")},
            {"Type": "GLB", "Url": self.emulation.result_url(task, "model.glb")},
        ]
        return answer(Status="DONE", ResultFile3Ds=files, ResultCreditConsumed=CREDITS_PER_MODEL)

    # -- Hunyuan images -----------------------------------------------------------------------

    async def submit_image(self, params: dict[str, Any]) -> web.Response:
        prompt = str(params.get("Prompt", ""))
        if not prompt:
            return tencent_error("InvalidParameter", "Prompt is required")
        if self.emulation.script.refuse:
            return tencent_error("OperationDenied.TextIllegalDetected", "the prompt is refused")
        self.prompts.append(prompt)
        return answer(JobId=self.emulation.new_task(params).id)

    async def query_image(self, params: dict[str, Any]) -> web.Response:
        task = self.emulation.tasks.get(str(params.get("JobId")))
        if task is None:
            return tencent_error("ResourceNotFound", "the job does not exist")
        state = self.emulation.advance(task)
        if state == "failed":
            return answer(
                JobStatusCode="4",
                JobErrorCode="FailedOperation.GenerateImageFailed",
                JobErrorMsg="generation failed",
                ResultImage=[],
                ResultDetails=[],
            )
        if state in ("running", "expired", "refused"):
            return answer(JobStatusCode="2" if task.polls > 1 else "1", JobStatusMsg="处理中")
        url = f"{self.emulation.base_url}/images/{task.id}/result.png?q-signature=s3cr3t"
        return answer(
            JobStatusCode="5", JobStatusMsg="处理完成", ResultImage=[url], ResultDetails=["Success"]
        )

    async def image(self, request: web.Request) -> web.Response:
        task: Task | None = self.emulation.tasks.get(request.match_info["task_id"])
        if task is None or request.query.get("q-signature") != "s3cr3t":
            return web.Response(status=403)
        if self.emulation.script.expired_downloads > 0:
            self.emulation.script.expired_downloads -= 1
            return web.Response(status=403, text="Request has expired")
        return web.Response(body=png_bytes_of(256), content_type="image/png")
