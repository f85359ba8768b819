"""A whole local stack on free loopback ports for the pipeline tests.

Unlike tests/e2e/stack, the stack here runs the real sample service
(otel_flux.demo:app) and a Collector that keeps ordinary traces at 10 %, so the
tail-sampling rules are exercised. Every process is stopped when the module's
tests finish, also when a test or the start-up fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.pipeline.stackctl import SAMPLING_ENVIRON, PipelineStack


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineStack]:
    """A running stack with 10 % sampling of ordinary traces; stopped afterwards."""
    with PipelineStack.running(tmp_path_factory.mktemp("pipeline-run"), SAMPLING_ENVIRON) as stack:
        yield stack
