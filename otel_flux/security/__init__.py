"""Security middleware: rate limiting, IP reputation and brute-force detection on Redis.

Add :class:`SecurityMiddleware` around any ASGI application; ``docs/security.md``
describes the checks, settings and guarantees.
"""

from otel_flux.security.cache import RequestCache, request_cache
from otel_flux.security.config import SecurityConfig
from otel_flux.security.middleware import SecurityMiddleware

__all__ = ["RequestCache", "SecurityConfig", "SecurityMiddleware", "request_cache"]
