"""otel_flux: an OpenTelemetry distribution for Python ASGI services that use Redis."""

__version__ = "0.1.0"
