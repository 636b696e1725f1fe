#!/usr/bin/env bash
# Builds the Jaeger all-in-one binary pinned in this module's go.mod into a
# cache directory, once. Prints the binary's path on stdout.
#
#   tools/jaeger/build.sh            # build if missing, print path
#   RAFTLINE_JAEGER_BIN=/path ...    # use this binary instead
#
# The first build downloads and compiles Jaeger's dependency graph (several
# minutes); later runs find the cached binary and return at once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="v1.76.0"

if [ -n "${RAFTLINE_JAEGER_BIN:-}" ]; then
  echo "$RAFTLINE_JAEGER_BIN"
  exit 0
fi

cache="${RAFTLINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/raftline}"
bin="$cache/jaeger-$version"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
tmp="$(mktemp "$cache/.jaeger-build.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
echo "building jaeger $version into $bin (first time only, takes minutes)" >&2
(cd "$here" && GOWORK=off CGO_ENABLED=0 go build -trimpath -o "$tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
chmod +x "$tmp"
mv -f "$tmp" "$bin"
trap - EXIT
echo "$bin"
