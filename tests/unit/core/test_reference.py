"""The settings reference in the README is the one the settings table renders."""

from __future__ import annotations

from pathlib import Path

from otel_flux.reference import BEGIN_MARKER, END_MARKER, render_reference, replace_section
from otel_flux.settings import all_settings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_reference_up_to_date() -> None:
    document = README.read_text(encoding="utf-8")

    assert replace_section(document, render_reference()) == document, (
        "README settings table is stale; regenerate it with otel-flux check-config --reference"
    )


def test_reference_lists_every_setting() -> None:
    table = render_reference()

    for setting in all_settings():
        assert f"`{setting.env}`" in table


def test_markers_present() -> None:
    document = README.read_text(encoding="utf-8")

    assert BEGIN_MARKER in document
    assert END_MARKER in document
