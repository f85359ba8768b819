"""Client addresses that label the load generator's requests.

All traffic goes to the service on loopback. Each simulated client sends its
own address in ``X-Forwarded-For``, so the service counts it separately when it
trusts the loopback peer (uvicorn does by default, and so does the security
middleware with ``FLUX_TRUSTED_PROXIES=127.0.0.1/32``).

The addresses come from the IPv6 documentation prefix 2001:db8::/32, which is
never routed. The service counts IPv6 clients per /64, so each client gets its
own /64: ``2001:db8:RUN:ROLE_INDEX::1``. The run tag differs per run, so a
second run against the same Redis does not meet the bans of the first.
"""

from __future__ import annotations

import enum
import ipaddress

from otel_flux.security.client import identity_key

_MAX_INDEX = 0x0FFF


class Role(enum.IntEnum):
    """Kind of simulated client; the high nibble of the fourth address group."""

    VISITOR = 0
    ATTACKER = 1
    BOT = 2
    PROBE = 15


def client_address(run_tag: int, role: Role, index: int) -> str:
    """Return the address of client ``index`` of ``role`` in the run ``run_tag``."""
    if not 0 <= run_tag <= 0xFFFF:
        raise ValueError(f"invalid run tag {run_tag}: expected an integer from 0 to 65535")
    if not 0 <= index <= _MAX_INDEX:
        raise ValueError(f"invalid client index {index}: expected from 0 to {_MAX_INDEX}")
    return f"2001:db8:{run_tag:x}:{(role << 12) | index:x}::1"


def client_key(address: str) -> str:
    """Return the name the security middleware gives the client in Redis keys: its /64."""
    return identity_key(ipaddress.ip_address(address))
