"""Helpers for the offline checks of deploy/compose and deploy/kubernetes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.stack import require_binaries

ROOT = Path(__file__).resolve().parents[3]
LOCAL_COLLECTOR = ROOT / "collector-config" / "otelcol-flux.yaml"


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def block(config: dict[str, Any], dotted: str) -> Any:
    """Return the value at a dotted path such as processors.redaction."""
    value: Any = config
    for key in dotted.split("."):
        value = value[key]
    return value


@pytest.fixture(scope="session")
def built_binaries() -> dict[str, Path]:
    return require_binaries()
