"""Client identity: which address a request is counted against.

The identity is the socket peer. When the peer is a trusted proxy, it is the
right-most ``X-Forwarded-For`` hop that is not a trusted proxy. Proxies append
the address they received from, so hops right of the first untrusted one were
written by our own proxies and hops left of it could be forged by the client.

IPv4-mapped IPv6 addresses count as their IPv4 address. IPv6 clients are counted
per /64, because one host usually controls a whole /64 and could otherwise rotate
through its addresses to escape every limit.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from otel_flux.settings import IPNetwork

_logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_FORWARDED_FOR = b"x-forwarded-for"
# Bounds on a header we parse on every request from a trusted proxy.
_MAX_HEADER_BYTES = 4096
_MAX_HOPS = 32
# Identity of requests without a socket peer (for example over a Unix socket).
# NOTE: all such requests share one identity and its limits, even behind a
# proxy, because X-Forwarded-For is read only from a trusted peer address.
UNKNOWN_CLIENT = "unknown"


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """The address a request is counted against.

    ``key`` is the IPv4 address, or the IPv6 /64 network, as text; it names the
    client's Redis keys. ``address`` is None when the peer is unknown.
    """

    key: str
    address: IPAddress | None


def parse_address(text: str) -> IPAddress | None:
    """Parse one address as found in a peer tuple or a header hop; None if invalid.

    Accepts an optional port (``1.2.3.4:80``, ``[2001:db8::1]:80``) and drops an
    IPv6 zone id, since neither names a different client.
    """
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return normalise(address)


def normalise(address: IPAddress) -> IPAddress:
    """Return the IPv4 address inside an IPv4-mapped IPv6 address, else ``address``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def identity_key(address: IPAddress) -> str:
    """Return the key text of ``address``: itself for IPv4, its /64 for IPv6."""
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    network = ipaddress.IPv6Network((int(address) >> 64 << 64, 64))
    return str(network)


def in_networks(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    """Return whether ``address`` lies in any of ``networks``."""
    return any(address.version == net.version and address in net for net in networks)


class ClientResolver:
    """Resolves the client identity of an ASGI scope given the trusted proxies."""

    def __init__(self, trusted_proxies: Iterable[IPNetwork]) -> None:
        self._trusted = tuple(trusted_proxies)

    def resolve(self, scope: Mapping[str, Any]) -> ClientIdentity:
        peer = self._peer(scope)
        if peer is None:
            return ClientIdentity(UNKNOWN_CLIENT, None)
        if self._trusted and in_networks(peer, self._trusted):
            forwarded = self._forwarded_client(scope)
            if forwarded is not None:
                peer = forwarded
        return ClientIdentity(identity_key(peer), peer)

    @staticmethod
    def _peer(scope: Mapping[str, Any]) -> IPAddress | None:
        client = scope.get("client")
        if not isinstance(client, list | tuple) or not client:
            return None
        host = client[0]
        if not isinstance(host, str):
            return None
        try:
            return normalise(ipaddress.ip_address(host.split("%", 1)[0]))
        except ValueError:
            return None

    def _forwarded_client(self, scope: Mapping[str, Any]) -> IPAddress | None:
        hops = _forwarded_hops(scope)
        if hops is None:
            return None
        last_trusted: IPAddress | None = None
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                # A trusted proxy never writes an invalid hop, so the header was
                # tampered with; fall back to the peer rather than guess.
                _logger.debug("ignored an X-Forwarded-For header with an invalid hop")
                return None
            if not in_networks(address, self._trusted):
                return address
            last_trusted = address
        return last_trusted


def _forwarded_hops(scope: Mapping[str, Any]) -> list[str] | None:
    """Return the hops of every X-Forwarded-For header in order, or None if unusable.

    Only the hyphenated name counts. Servers turn ``X_Forwarded_For`` into a
    different header name, and some proxies pass that spelling through
    unchanged, so a client could use it to smuggle a value.
    """
    headers = scope.get("headers")
    if not isinstance(headers, list | tuple):
        return None
    values: list[bytes] = []
    size = 0
    for item in headers:
        name, value = item[0], item[1]
        if name.lower() != _FORWARDED_FOR:
            continue
        size += len(value)
        if size > _MAX_HEADER_BYTES:
            return None
        values.append(value)
    if not values:
        return None
    try:
        text = b",".join(values).decode("ascii")
    except UnicodeDecodeError:
        return None
    hops = [hop.strip() for hop in text.split(",")]
    if len(hops) > _MAX_HOPS or any(not hop for hop in hops):
        return None
    return hops
