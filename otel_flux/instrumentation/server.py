"""Install the server middleware into uvicorn without a change to the app.

uvicorn builds its app in ``Config.load()``: it imports the app, calls a factory,
adapts ASGI2 or WSGI apps, and then wraps the result in its own transport
middleware (proxy headers, message logging). The patch wraps the app just inside
uvicorn's transport wrappers, so ``scope["client"]`` already reflects uvicorn's
proxy-header handling when the span starts. The patch runs in every process that
loads the app, which covers ``--workers N`` (spawned processes that run
``opentelemetry-instrument``'s start-up again) and gunicorn's uvicorn workers.

Requests that the upstream ``OpenTelemetryMiddleware`` would trace a second time
(an app that adds it by hand, or a framework instrumentor) pass through it
untouched, so each request has exactly one SERVER span.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_flux.instrumentation import config
from otel_flux.instrumentation.asgi import SCOPE_MARKER, FluxServerMiddleware
from otel_flux.shutdown import shutdown_providers

_logger = logging.getLogger(__name__)

_ORIGINAL = "_otel_flux_original"


def build_middleware(app: Any) -> FluxServerMiddleware:
    """Wrap an ASGI app in the server middleware configured from the settings."""
    pattern = None
    try:
        pattern = config.excluded_url_pattern()
    except Exception:  # re.error; logged so a bad regex never stops the service
        _logger.warning(
            "invalid regex in OTEL_PYTHON_ASGI_EXCLUDED_URLS or OTEL_PYTHON_EXCLUDED_URLS; "
            "only FLUX_EXCLUDED_PATHS applies",
            exc_info=True,
        )
    return FluxServerMiddleware(
        app,
        excluded_paths=config.EXCLUDED_PATHS.read(),
        excluded_pattern=pattern,
        client_address=config.CLIENT_ADDRESS.read(),
        admin=_admin_handler(),
        admin_prefix=config.ADMIN_PATH.read(),
    )


def _admin_handler() -> Any:
    try:
        from otel_flux import admin  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return None
    return getattr(admin, "handle_admin", None)


def _unwrap_transport(app: Any) -> tuple[Any, Any]:
    """Return (outermost uvicorn transport wrapper or None, the app inside them)."""
    from uvicorn.middleware.message_logger import MessageLoggerMiddleware
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    transport = (ProxyHeadersMiddleware, MessageLoggerMiddleware)
    holder = None
    inner = app
    while isinstance(inner, transport):
        holder = inner
        inner = inner.app
    return holder, inner


def _patch_uvicorn() -> bool:
    try:
        from uvicorn.config import Config
    except ImportError:
        return False
    if hasattr(Config.load, _ORIGINAL):
        return True
    original = Config.load

    @functools.wraps(original)
    def load(self: Any) -> None:
        original(self)
        holder, inner = _unwrap_transport(self.loaded_app)
        if isinstance(inner, FluxServerMiddleware):
            return
        wrapped = build_middleware(inner)
        if holder is None:
            self.loaded_app = wrapped
        else:
            holder.app = wrapped
        _logger.debug("otel_flux server middleware installed around %r", inner)

    setattr(load, _ORIGINAL, original)
    Config.load = load  # type: ignore[method-assign]
    return True


def _patch_uvicorn_exit() -> None:
    """Export buffered telemetry before uvicorn ends the process.

    On SIGTERM or SIGINT, uvicorn (0.29 and later) shuts down gracefully and then
    raises the captured signal again with the default handler, which ends the
    process without running ``atexit`` handlers, so the SDK never flushes its
    last batch. Shutting the providers down right after the server has stopped
    closes that gap; a server stopped without a signal only flushes.
    """
    try:
        from uvicorn.server import Server
    except ImportError:
        return
    if hasattr(Server._serve, _ORIGINAL):
        return
    original = Server._serve

    @functools.wraps(original)
    async def serve(self: Any, sockets: Any = None) -> None:
        try:
            await original(self, sockets)
        finally:
            if getattr(self, "_captured_signals", None):
                shutdown_providers()

    setattr(serve, _ORIGINAL, original)
    Server._serve = serve  # type: ignore[method-assign]


def _patch_upstream_middleware() -> None:
    """Let the upstream ASGI middleware pass through requests already traced here."""
    try:
        from opentelemetry.instrumentation.asgi import (
            OpenTelemetryMiddleware,
        )
    except ImportError:
        return
    if hasattr(OpenTelemetryMiddleware.__call__, _ORIGINAL):
        return
    original: Callable[..., Any] = OpenTelemetryMiddleware.__call__

    @functools.wraps(original)
    async def call(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if SCOPE_MARKER in scope:
            await self.app(scope, receive, send)
            return
        await original(self, scope, receive, send)

    setattr(call, _ORIGINAL, original)
    # setattr, because the upstream package may be absent when type-checking.
    setattr(OpenTelemetryMiddleware, "__call__", call)  # noqa: B010


def _unpatch() -> None:
    try:
        from uvicorn.config import Config
        from uvicorn.server import Server

        original = getattr(Config.load, _ORIGINAL, None)
        if original is not None:
            Config.load = original  # type: ignore[method-assign]
        original = getattr(Server._serve, _ORIGINAL, None)
        if original is not None:
            Server._serve = original  # type: ignore[method-assign]
    except ImportError:
        pass
    try:
        from opentelemetry.instrumentation.asgi import (
            OpenTelemetryMiddleware,
        )

        original = getattr(OpenTelemetryMiddleware.__call__, _ORIGINAL, None)
        if original is not None:
            setattr(OpenTelemetryMiddleware, "__call__", original)  # noqa: B010
    except ImportError:
        pass


# ASGI servers whose app loading is not patched: under them requests get no
# SERVER span unless the app is wrapped by hand with build_middleware().
_UNSUPPORTED_SERVERS = ("hypercorn", "daphne", "granian")


def warn_if_unsupported_server(argv: list[str]) -> str | None:
    """Log once that the server in argv is not instrumented; return its name if so."""
    program = os.path.basename(argv[0]) if argv else ""
    if program.startswith("python") and len(argv) > 2 and argv[1] == "-m":
        program = argv[2]
    for name in _UNSUPPORTED_SERVERS:
        if program.startswith(name):
            _logger.warning(
                "otel_flux wraps apps loaded by uvicorn (also under gunicorn); %s is not "
                "supported, so requests get no server span or duration metric. Serve the "
                "app with uvicorn, or wrap it: "
                "app = otel_flux.instrumentation.server.build_middleware(app)",
                name,
            )
            return name
    return None


class FluxServerInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instrumentor registered as ``otel_flux_server``; wraps apps served by uvicorn."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        if not config.SERVER_ENABLED.read():
            return
        _patch_upstream_middleware()
        _patch_uvicorn_exit()
        warn_if_unsupported_server(sys.argv)
        if not _patch_uvicorn():
            _logger.info("uvicorn is not installed; no ASGI server to instrument")

    def _uninstrument(self, **kwargs: Any) -> None:
        _unpatch()
