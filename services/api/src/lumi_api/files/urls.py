"""The absolute file URLs the API returns. Both apps use them verbatim, without auth.

- A listed model's files (public and completed: in the gallery) get stable public URLs:
  `PUBLIC_FILES_BASE_URL` + key when a CDN serves them, else the API's own
  `PUBLIC_BASE_URL` + `FILES_PATH_PREFIX` + key.
- Everything else — a private or unfinished model's files, every task image — gets a short-lived
  signed URL of the API (`…?exp=…&sig=…`, `SIGNED_URL_SECONDS`), which only the owner is given.
  On S3 the API answers it with a redirect to a presigned GET: the bytes never pass through it.
- A model's preview is addressed as `models/<id>/preview.png`, not by the task image it is: the
  URL carries no request id, so it leads to no other picture of that task.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from lumi_api.models.repository import is_listed
from lumi_common.db.tables import Model
from lumi_common.storage.keys import model_prefix
from lumi_common.storage.signing import FileSigner, Signature

FILES_PATH = "/files/"
PROXY_FILES_PATH = "/api/proxy/files/"  # the web app's image optimizer allows /api/proxy/**
PREVIEW_FILE = "preview.png"
# signed URLs of one file are the same for this long (their expiry rounded up to it)
SIGNED_STEP_SECONDS = 60

KeyUrl = Callable[[str | None], str | None]


def preview_key(model_id: str) -> str:
    return model_prefix(model_id) + PREVIEW_FILE


class FileUrls:
    def __init__(
        self,
        *,
        files_url: str,
        signer: FileSigner,
        signed_seconds: float,
        public_files_url: str | None = None,
    ) -> None:
        self._files_url = files_url  # the API's, ending with "/"
        self._public_url = public_files_url or files_url
        self._signer = signer
        self._signed_seconds = signed_seconds

    def public(self, key: str | None) -> str | None:
        return None if not key else self._public_url + quote(key, safe="/")

    def signed(self, key: str | None) -> str | None:
        if not key:
            return None
        return self._signer.url(
            self._files_url, key, expires_in=self._signed_seconds, step=SIGNED_STEP_SECONDS
        )

    def check(self, key: str, exp: str | None, sig: str | None) -> Signature:
        return self._signer.check(key, exp, sig)

    def of_model(self, model: Model) -> KeyUrl:
        """How this model's files are linked: publicly while it is listed, else signed."""
        return self.public if is_listed(model) else self.signed

    def preview(self, model: Model) -> str | None:
        return self.of_model(model)(preview_key(model.id) if model.preview_key else None)
