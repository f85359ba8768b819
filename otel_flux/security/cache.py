"""Request-scope cache of security lookups.

The client identity, the account HMAC and the verdict of the checks are stored in
the ASGI scope under :data:`SCOPE_KEY`, so they are computed once per request.
A second :class:`~otel_flux.security.SecurityMiddleware` in the same stack (for
example on a mounted sub-application) reuses the verdict instead of calling
Redis again, and the application can read it with :func:`request_cache`.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from otel_flux.security.client import ClientIdentity
    from otel_flux.security.store import Verdict

SCOPE_KEY = "otel_flux.security"


class RequestCache:
    """Lookups made for one request; each attribute is None until computed."""

    __slots__ = ("account_id", "client", "verdict")

    def __init__(self) -> None:
        self.client: ClientIdentity | None = None
        self.account_id: str | None = None
        self.verdict: Verdict | None = None


def request_cache(scope: MutableMapping[str, Any]) -> RequestCache:
    """Return the request's cache, creating it on first use."""
    cache = scope.get(SCOPE_KEY)
    if not isinstance(cache, RequestCache):
        cache = RequestCache()
        scope[SCOPE_KEY] = cache
    return cache
