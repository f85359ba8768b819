"""Client identity from the socket peer and X-Forwarded-For."""

from __future__ import annotations

from typing import Any

import pytest

from otel_flux.security.client import UNKNOWN_CLIENT, ClientResolver, parse_address
from otel_flux.settings import parse_cidr_list

PROXIES = parse_cidr_list("10.0.0.0/8,fd00::/8")


def scope(peer: Any, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "client": peer, "headers": list(headers)}


def xff(value: bytes) -> tuple[bytes, bytes]:
    return (b"x-forwarded-for", value)


@pytest.mark.parametrize(
    ("request_scope", "expected"),
    [
        (scope(("192.0.2.1", 1)), "192.0.2.1"),
        (scope(("::ffff:192.0.2.1", 1)), "192.0.2.1"),
        (scope(("2001:db8:1:2:3:4:5:6", 1)), "2001:db8:1:2::/64"),
        (scope(("fe80::1%eth0", 1)), "fe80::/64"),
        (scope(None), UNKNOWN_CLIENT),
        (scope(("not-an-ip", 1)), UNKNOWN_CLIENT),
        # Untrusted peer: the header is ignored.
        (scope(("192.0.2.1", 1), xff(b"198.51.100.1")), "192.0.2.1"),
        # Trusted peer: the right-most untrusted hop.
        (scope(("10.0.0.1", 1), xff(b"198.51.100.1, 198.51.100.2, 10.0.0.9")), "198.51.100.2"),
        (scope(("10.0.0.1", 1), xff(b"198.51.100.1"), xff(b"10.0.0.7")), "198.51.100.1"),
        (scope(("10.0.0.1", 1), xff(b"[2001:db8::1]:443")), "2001:db8::/64"),
        (scope(("10.0.0.1", 1), xff(b"198.51.100.1:8080")), "198.51.100.1"),
        (scope(("10.0.0.1", 1), xff(b"::ffff:198.51.100.1")), "198.51.100.1"),
        # Only trusted hops: the left-most one.
        (scope(("10.0.0.1", 1), xff(b"10.0.0.3, 10.0.0.2")), "10.0.0.3"),
        # Malformed or smuggled headers fall back to the peer.
        (scope(("10.0.0.1", 1), xff(b"198.51.100.1, garbage")), "10.0.0.1"),
        (scope(("10.0.0.1", 1), xff(b"198.51.100.1,,")), "10.0.0.1"),
        (scope(("10.0.0.1", 1), xff(b"unknown")), "10.0.0.1"),
        (scope(("10.0.0.1", 1), xff("198.51.100.1\u00e9".encode())), "10.0.0.1"),
        (scope(("10.0.0.1", 1), xff(b"1.2.3.4," * 2000)), "10.0.0.1"),
        (scope(("10.0.0.1", 1), (b"x_forwarded_for", b"198.51.100.1")), "10.0.0.1"),
        (scope(("10.0.0.1", 1), xff(b"[2001:db8::1")), "10.0.0.1"),
    ],
)
def test_resolve_identity(request_scope: dict[str, Any], expected: str) -> None:
    """Each scope resolves to the expected client key."""
    resolver = ClientResolver(PROXIES)

    assert resolver.resolve(request_scope).key == expected


def test_no_trusted_proxies_ignores_header() -> None:
    """Without trusted proxies the header never counts, even from a private peer."""
    resolver = ClientResolver(())

    identity = resolver.resolve(scope(("10.0.0.1", 1), xff(b"198.51.100.1")))

    assert identity.key == "10.0.0.1"


@pytest.mark.parametrize("text", ["", "::1::2", "999.1.1.1", "[::1", "a.b.c.d:80"])
def test_parse_address_rejects_invalid(text: str) -> None:
    """Invalid hops parse to None rather than raising."""
    assert parse_address(text) is None
