"""Which webhook URLs are acceptable, and which addresses a delivery may connect to.

A URL is checked when it is registered (its shape; a literal private address is refused at
once) and every address it resolves to is checked again when a delivery connects
(`allowed_address`, used by the worker's resolver), so a name that resolves to a private or
loopback address (or is changed to one later: DNS rebinding) is refused where it matters.
`WEBHOOK_ALLOW_PRIVATE=true` lifts the address rule (tests and local development).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from lumi_common.db.tables import WEBHOOK_URL_CHARS
from lumi_common.i18n import InvalidValue
from lumi_common.i18n import webhooks as texts


class UnacceptableUrl(InvalidValue):
    pass


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL as given when it may receive webhooks; raises `UnacceptableUrl` saying why."""
    if len(url) > WEBHOOK_URL_CHARS:
        raise UnacceptableUrl(texts.URL_TOO_LONG(limit=WEBHOOK_URL_CHARS))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnacceptableUrl(texts.URL_INVALID) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnacceptableUrl(texts.URL_NOT_HTTP)
    if parts.username is not None or parts.password is not None:
        raise UnacceptableUrl(texts.URL_HAS_CREDENTIALS)
    if port == 0:
        raise UnacceptableUrl(texts.URL_PORT_ZERO)
    if any(ch.isspace() for ch in url):
        raise UnacceptableUrl(texts.URL_HAS_SPACES)
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url  # a name: its addresses are checked when a delivery connects
    if not allow_private and not allowed_address(str(literal)):
        raise UnacceptableUrl(texts.URL_PRIVATE)
    return url


def allowed_address(address: str) -> bool:
    """Whether a delivery may connect to this IP (a public unicast address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
