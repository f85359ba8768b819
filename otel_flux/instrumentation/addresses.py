"""Client addresses as they may appear in telemetry."""

from __future__ import annotations

import ipaddress
from functools import lru_cache


@lru_cache(maxsize=4096)
def display_address(address: str, *, full: bool = False) -> str | None:
    """Return the address to put on a span, or None when it is not an IP address.

    By default the address is truncated to its network (/24 for IPv4, /64 for
    IPv6), so no single client can be picked out of exported telemetry. An
    IPv4-mapped IPv6 address is treated as the IPv4 address it contains.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if full:
        return str(ip)
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
