"""The pages: `/ops` (the ops console, administrators only) and `/` (the try-it page, when
`UI_ENABLED`, by default in development), and their files under `/static/`.

A page is a static HTML file; its scripts fetch the API's JSON routes. Each page is sent with a
strict Content-Security-Policy: scripts and styles only from this origin, no inline code, no
plugins, no framing. Pictures and model files may come from the public file URLs (`PUBLIC_BASE_URL`,
or any HTTPS host: a bucket's signed URLs), which the viewer reads with `fetch` and `<img>`.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from aiohttp import web

from lumi_api.auth.current import optional_user
from lumi_api.keys import SETTINGS
from lumi_api.routing import add_route
from lumi_api.settings import ApiSettings
from lumi_api.web.static import static_file, static_path

HTML = "text/html"
CSP = web.AppKey("content_security_policy", str)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[CSP] = content_security_policy(settings)
    # served at the root, not under /api; a page load is a dozen files: never rate-limited
    page = functools.partial(
        add_route, app, auth="none", prefixed=False, rate_limited=False, tag="pages"
    )
    page(
        "GET",
        "/static/{path:.+}",
        static_file,
        summary="The pages' scripts, styles and vendored libraries (with their licenses)",
        content_type="*/*",
        jsend=False,
    )
    page(
        "GET",
        "/ops",
        ops_page,
        summary="The ops console (administrators; a signed-in user who is not one gets a 403)",
        content_type=HTML,
        responses=(403,),
    )
    if settings.serves_try_it:
        page(
            "GET",
            "/",
            try_it_page,
            summary="The try-it page: sign in, prompt, pick an image, see the model",
            content_type=HTML,
        )


def content_security_policy(settings: ApiSettings) -> str:
    files = "{0.scheme}://{0.netloc}".format(urlsplit(settings.base_url))
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {files} https:",
            f"connect-src 'self' {files} https:",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


async def ops_page(request: web.Request) -> web.FileResponse:
    """Anyone gets the page (it asks an anonymous visitor to sign in); a signed-in user who is
    not an administrator gets the 403 page: the console's data routes would refuse them too."""
    user = await optional_user(request)
    if user is not None and not user.is_admin:
        return _page(request, "ops/forbidden.html", status=403)
    return _page(request, "ops/index.html")


async def try_it_page(request: web.Request) -> web.FileResponse:
    return _page(request, "try/index.html")


def _page(request: web.Request, name: str, *, status: int = 200) -> web.FileResponse:
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-cache",
        "Content-Security-Policy": request.app[CSP],
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return web.FileResponse(static_path(name), status=status, headers=headers)
