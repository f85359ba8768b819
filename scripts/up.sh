#!/usr/bin/env bash
# Set everything up, start the local pipeline with the sample service, send it
# real traffic and print where to look. Stop it with: .venv/bin/otel-flux stack down
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${FLUX_VENV:-$repo_root/.venv}
cd "$repo_root"

bash scripts/setup.sh
exec "$venv/bin/otel-flux" stack up "$@"
