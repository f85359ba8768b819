"""Defaults that the otel_flux distro sets for standard variables."""

from __future__ import annotations

import os

import pytest

from otel_flux.distro import FluxDistro


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A copy of the environment that the distro writes to, so no default leaks out."""
    copy = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    monkeypatch.setattr(os, "environ", copy)
    return copy


def test_distro_sets_span_batch_size(environ: dict[str, str]) -> None:
    FluxDistro()._configure()

    assert environ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] == "512"


def test_distro_sets_span_queue_size(environ: dict[str, str]) -> None:
    FluxDistro()._configure()

    assert environ["OTEL_BSP_MAX_QUEUE_SIZE"] == "8192"


def test_distro_keeps_user_batch_size(environ: dict[str, str]) -> None:
    environ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = "64"

    FluxDistro()._configure()

    assert environ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] == "64"
