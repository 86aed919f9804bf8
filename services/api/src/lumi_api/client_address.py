"""Which client a request comes from, for the rate limits: the TCP peer, or behind trusted
proxies the address the outermost one saw. IPv6 clients count per /64 (one subscriber usually
holds a whole /64), IPv4-mapped IPv6 as the IPv4 address."""

from __future__ import annotations

import ipaddress

from aiohttp import hdrs, web

IPV6_PREFIX = 64


def client_address(request: web.Request, trusted_hops: int) -> str:
    """Proxies append to `X-Forwarded-For`, so only its last `trusted_hops` entries are not
    made up by the client; with fewer entries, or one that is not an address, the peer counts."""
    if trusted_hops > 0:
        forwarded = [
            part.strip()
            for value in request.headers.getall(hdrs.X_FORWARDED_FOR, [])
            for part in value.split(",")
            if part.strip()
        ]
        if len(forwarded) >= trusted_hops and (seen := _bucket(forwarded[-trusted_hops])):
            return seen
    return _bucket(request.remote or "") or "unknown"


def _bucket(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False).network_address)
    return str(address)
