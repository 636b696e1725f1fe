#!/usr/bin/env bash
# Builds the OpenTelemetry Collector of this module (main.go: the OTLP
# receiver, the tail_sampling and batch processors, the OTLP exporter, the
# health_check extension; the collector release pinned in go.mod) into a
# cache directory, once. Prints
# the binary's path on stdout.
#
#   tools/otelcol/build.sh            # build if missing, print path
#   RAFTLINE_OTELCOL_BIN=/path ...    # use this binary instead
#
# The first build downloads and compiles the collector's dependency graph
# (about four minutes on two cores); later runs find the cached binary and
# return at once. The binary is static (CGO_ENABLED=0), fit for an image
# FROM scratch.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ -n "${RAFTLINE_OTELCOL_BIN:-}" ]; then
  echo "$RAFTLINE_OTELCOL_BIN"
  exit 0
fi

# The cached binary is named after what it is built from.
version="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-12)"
cache="${RAFTLINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/raftline}"
bin="$cache/otelcol-$version"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
tmp="$(mktemp "$cache/.otelcol-build.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
echo "building otelcol into $bin (first time only, takes minutes)" >&2
(cd "$here" && GOWORK=off CGO_ENABLED=0 go build -trimpath -o "$tmp" .)
chmod +x "$tmp"
mv -f "$tmp" "$bin"
trap - EXIT
echo "$bin"
