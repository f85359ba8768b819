#!/usr/bin/env bash
# Install everything otel_flux needs on a Debian machine, idempotently:
#   - Debian packages: redis-server, prometheus (with promtool), nginx, wrk,
#     and kubectl when it is missing;
#   - a virtual environment in $FLUX_VENV (default .venv in the checkout) with
#     otel_flux installed editable and its development dependencies;
#   - the otelcol-flux and Jaeger binaries, built into a cache outside the
#     checkout by deploy/local/build-binaries.sh (skipped with --no-binaries).
# Each step names the piece that failed and why.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${FLUX_VENV:-$repo_root/.venv}
build_binaries=true
for argument in "$@"; do
  case "$argument" in
    --no-binaries) build_binaries=false ;;
    *) echo "setup: unknown argument '$argument'; expected --no-binaries" >&2; exit 2 ;;
  esac
done

log() { echo "setup: $*" >&2; }
fail() { echo "setup: $*" >&2; exit 1; }

debian_packages=(redis-server prometheus nginx wrk)
missing=()
for package in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null || fail "apt-get not found; install ${missing[*]} by hand"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || fail "installing ${missing[*]} needs root or sudo"
    sudo=sudo
  fi
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq || fail "apt-get update failed; check the package sources"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]} failed"
  # The packages may start system services on install. The stack runs its own
  # copies on its own ports, so stop those to keep the default ports free.
  for service in redis-server prometheus nginx; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
      $sudo systemctl stop "$service" || true
    fi
  done
fi

# kubectl renders the Kubernetes manifests (`kubectl kustomize`) in the
# deployment tests. Some images ship it; otherwise Debian's kubernetes-client
# package provides it.
if ! command -v kubectl >/dev/null; then
  command -v apt-get >/dev/null || fail "kubectl not found and no apt-get; install kubectl by hand"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  log "installing kubectl"
  $sudo apt-get update -qq || fail "apt-get update failed; check the package sources"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends kubectl \
    >/dev/null 2>&1 \
    || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      kubernetes-client >/dev/null \
    || fail "apt-get install kubectl (or kubernetes-client) failed"
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || fail "Python 3.11 or newer is required; $python is $("$python" --version 2>&1)"
if [[ ! -x $venv/bin/python ]]; then
  log "creating the virtual environment $venv"
  "$python" -m venv "$venv" || fail "could not create a virtual environment at $venv"
fi
log "installing otel_flux and its development dependencies into $venv"
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$venv/bin/python" -m pip install -q -e "$repo_root[dev,demo,report,load,bench]" \
  || fail "pip install of otel_flux failed; see the pip output above"

if $build_binaries; then
  log "building or reusing otelcol-flux and Jaeger"
  bash "$repo_root/deploy/local/build-binaries.sh" >/dev/null \
    || fail "building the Collector or Jaeger failed; see the build output above"
fi
log "done: activate with 'source $venv/bin/activate'"
