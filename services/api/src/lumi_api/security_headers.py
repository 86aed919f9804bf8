"""Headers every response carries, whatever produced it (a handler, an error, a 304, a file):
added when the response is prepared, unless the handler set its own.

- `X-Content-Type-Options: nosniff`: a browser never reads a file or a JSON answer as a page.
- `Referrer-Policy: no-referrer`: no URL of ours (signed file links included) leaks onward.
- On HTML pages, a Content-Security-Policy allowing scripts, styles and requests to this origin
  only (the docs viewer ships with the API), and no framing.
- In production, `Strict-Transport-Security` (PUBLIC_BASE_URL is https there).
"""

from __future__ import annotations

from aiohttp import web

from lumi_api.keys import SETTINGS

HTML_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        # the docs viewer sets style attributes from its scripts
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"
ALWAYS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
HTML_ONLY = {"Content-Security-Policy": HTML_CSP, "X-Frame-Options": "DENY"}


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(_add_headers)


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    for name, value in ALWAYS.items():
        headers.setdefault(name, value)
    if response.content_type == "text/html":
        for name, value in HTML_ONLY.items():
            headers.setdefault(name, value)
    if request.app[SETTINGS].is_production:
        headers.setdefault("Strict-Transport-Security", HSTS)
