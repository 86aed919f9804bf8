"""Routes the apps call that this version does not serve yet: printers and print status.

They answer a JSend `error` 501 `NOT_IMPLEMENTED` rather than a 404, so the apps show a message
instead of treating the feature as missing, and still require a signed-in caller first (the old
server answered an anonymous `POST /api/slices` with a 500).
"""

from __future__ import annotations

from aiohttp import web

from lumi_api import texts
from lumi_api.routing import add_route
from lumi_common.errors import NotImplementedYet

# method, path, summary, tag
ROUTES = (
    ("GET", "/printers", "The caller's printers", "printers"),
    ("GET", "/printers/{printer_id}", "A printer with its live status", "printers"),
    ("POST", "/printers", "Bind a printer", "printers"),
    ("DELETE", "/printers/{printer_id}", "Unbind a printer", "printers"),
    ("POST", "/printers/{printer_id}/jobs", "Send a print job to a printer", "printers"),
    ("GET", "/devices/products", "The printer models that can be bound", "printers"),
    ("GET", "/tasks/{task_id}/print-status", "A task's print status", "tasks"),
)


class NotAvailableYet(NotImplementedYet):
    default_message = texts.PRINTERS_NOT_AVAILABLE


def setup(app: web.Application) -> None:
    for method, path, summary, tag in ROUTES:
        add_route(
            app,
            method,
            path,
            not_implemented,
            summary=f"{summary} (not implemented yet)",
            auth="required",
            responses=(501,),
            tag=tag,
        )


async def not_implemented(_: web.Request) -> web.Response:
    """The route guard has already required a signed-in caller."""
    raise NotAvailableYet()
