#!/usr/bin/env bash
# Set everything up, then run the linters, the type checker and every test,
# including the end-to-end tests against the real Collector, Jaeger and
# Prometheus. Extra arguments go to pytest.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${FLUX_VENV:-$repo_root/.venv}
cd "$repo_root"

bash scripts/setup.sh
# A missing binary fails the stack tests instead of skipping them.
export FLUX_REQUIRE_STACK=1

echo "test: ruff" >&2
"$venv/bin/ruff" check otel_flux tests
"$venv/bin/ruff" format --check otel_flux tests
echo "test: mypy" >&2
"$venv/bin/mypy"
echo "test: pytest" >&2
"$venv/bin/pytest" "$@"
