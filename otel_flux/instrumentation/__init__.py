"""Instrumentation installed by the otel_flux distro: ASGI servers and Redis."""
