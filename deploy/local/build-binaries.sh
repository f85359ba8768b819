#!/usr/bin/env bash
# Build otelcol-flux and Jaeger into a cache outside the checkout, or reuse them.
#
# Each binary lives in $FLUX_CACHE_DIR/bin/<name>-<version>-<hash>/<name>, where
# the hash covers its module's go.mod, go.sum, Go sources and the Go version, so
# an unchanged module is never rebuilt. GOMODCACHE and GOCACHE are kept under
# $FLUX_CACHE_DIR/go as well, so a rebuild after a small change is incremental.
#
# Usage: build-binaries.sh [--check]
#   --check  build nothing; exit 1 if a binary is missing from the cache.
#
# Progress goes to stderr. Stdout gets one NAME=PATH line per binary, for
# scripts such as `otel-flux stack up` and .ci/run.
#
# Environment: FLUX_CACHE_DIR (default ~/.cache/otel-flux), GO (default: go on
# PATH, else /usr/local/go/bin/go).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache_dir=${FLUX_CACHE_DIR:-${HOME}/.cache/otel-flux}
check_only=false

case "${1:-}" in
  "") ;;
  --check) check_only=true ;;
  *) echo "build-binaries: unknown argument '$1'; expected --check or nothing" >&2; exit 2 ;;
esac

log() { echo "build-binaries: $*" >&2; }

find_go() {
  if [[ -n "${GO:-}" ]]; then echo "$GO"; return; fi
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go; return; fi
  log "no Go toolchain found; install Go or set GO to the go binary"
  exit 1
}

# module_hash DIR EXTRA: a short hash of everything that affects the build; EXTRA
# carries the Go version and the build flags.
module_hash() {
  local dir=$1 extra=$2
  {
    echo "$extra"
    (cd "$dir" && find . -maxdepth 1 -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) \
      -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-12
}

# module_version DIR MODULE: the version go.mod requires of MODULE.
module_version() {
  awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' \
    "$1/go.mod"
}

# ensure NAME DIR VERSION PACKAGE VERSION_VAR: reuse or build one binary, then
# print NAME=PATH. VERSION_VAR is the Go variable that receives VERSION.
ensure() {
  local name=$1 dir=$2 version=$3 package=$4 version_var=$5
  local hash target_dir target ldflags
  ldflags="-s -w -X $version_var=$version"
  hash=$(module_hash "$dir" "$go_version $package $ldflags")
  target_dir="$cache_dir/bin/$name-$version-$hash"
  target="$target_dir/$name"

  if [[ -x "$target" ]]; then
    log "reusing $name $version ($target)"
  elif $check_only; then
    log "$name $version is not built yet (expected $target); run $0"
    missing=true
    return
  else
    log "building $name $version into $target_dir; a cold build takes several minutes"
    local started=$SECONDS
    mkdir -p "$target_dir"
    (cd "$dir" && "$go_bin" build -trimpath -mod=readonly \
      -ldflags "$ldflags" -o "$target.tmp" "$package")
    mv "$target.tmp" "$target"
    log "built $name in $((SECONDS - started)) s"
  fi

  # A stable name for the newest build, for people typing commands by hand.
  ln -sfn "$target" "$cache_dir/bin/$name"
  echo "$name=$target"
}

go_bin=$(find_go)
export GOMODCACHE="$cache_dir/go/mod"
export GOCACHE="$cache_dir/go/build"
export GOTOOLCHAIN=local
export GOFLAGS=-buildvcs=false
go_version=$("$go_bin" env GOVERSION)
missing=false
if ! $check_only; then
  mkdir -p "$cache_dir/bin"
  # One build at a time per cache: `.ci/run` and `otel-flux stack up` may overlap.
  exec 9>"$cache_dir/bin/.lock"
  if ! flock -w 1800 9; then
    log "timed out after 30 min waiting for another build holding $cache_dir/bin/.lock"
    exit 1
  fi
fi

collector_dir="$repo_root/collector-config/otelcol-flux"
jaeger_dir="$repo_root/collector-config/jaeger"
ensure otelcol-flux "$collector_dir" \
  "$(module_version "$collector_dir" go.opentelemetry.io/collector/otelcol)" \
  . main.version
ensure jaeger "$jaeger_dir" \
  "$(module_version "$jaeger_dir" github.com/jaegertracing/jaeger)" \
  github.com/jaegertracing/jaeger/cmd/jaeger \
  github.com/jaegertracing/jaeger/internal/version.latestVersion

if $missing; then
  exit 1
fi
