"""flux-auth, the sample service: ``uvicorn otel_flux.demo:app``."""

from otel_flux.demo.app import app, create_app

__all__ = ["app", "create_app"]
