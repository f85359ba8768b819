"""The Resource every signal of the process carries."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

from opentelemetry.sdk.resources import SERVICE_NAME, Resource

from otel_flux import __version__

SAMPLE_APP = "otel_flux.demo:app"
SAMPLE_SERVICE_NAME = "flux-auth"

# "package.module:attribute" as uvicorn, gunicorn and hypercorn take it.
_APP_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.()]*$")


def default_service_name(argv: Sequence[str]) -> str:
    """Derive a service name from the served app when no setting names one.

    ``otel_flux.demo:app`` is ``flux-auth``; ``shop.api:app`` is ``shop``; with no
    app on the command line the name is ``unknown_service:python``, as the SDK
    would choose.
    """
    for argument in argv[1:]:
        if _APP_SPEC.match(argument):
            if argument == SAMPLE_APP:
                return SAMPLE_SERVICE_NAME
            return argument.split(":", 1)[0].split(".", 1)[0]
    return "unknown_service:python"


def _service_name_is_set() -> bool:
    if os.environ.get("OTEL_SERVICE_NAME", "").strip():
        return True
    for item in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == SERVICE_NAME and value.strip():
            return True
    return False


def build_resource(auto_instrumentation_version: str | None = None) -> Resource:
    """Build the Resource: OTEL_SERVICE_NAME, then OTEL_RESOURCE_ATTRIBUTES, then a default.

    ``service.instance.id`` comes from the SDK's process-dependent detector, so
    each process, including each worker forked from a parent, gets its own.
    """
    attributes: dict[str, str] = {
        "telemetry.distro.name": "otel_flux",
        "telemetry.distro.version": __version__,
    }
    if auto_instrumentation_version:
        attributes["telemetry.auto.version"] = auto_instrumentation_version
    if not _service_name_is_set():
        attributes[SERVICE_NAME] = default_service_name(sys.argv)
    return Resource.create(attributes)
