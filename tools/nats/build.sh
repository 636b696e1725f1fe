#!/usr/bin/env bash
# Builds this module's NATS peers for `make bench-peers` into a cache
# directory, once: nats-server and the nats CLI (the releases pinned in
# go.mod's tool block) and natsload, the JetStream load driver beside them.
# Prints the directory holding the three binaries on stdout.
#
#   tools/nats/build.sh               # build if missing, print the directory
#   RAFTLINE_NATS_DIR=/path ...       # use the binaries in this directory
#
# The first build downloads and compiles the server's and the CLI's
# dependency graphs (a few minutes on two cores); later runs find the cached
# binaries and return at once. The directory is named after what they are
# built from, natsload's source and the loadgen packages it uses included.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ -n "${RAFTLINE_NATS_DIR:-}" ]; then
  echo "$RAFTLINE_NATS_DIR"
  exit 0
fi

version="$(cat "$here/go.mod" "$here/go.sum" "$here"/natsload/*.go \
  "$root"/loadgen/rate/*.go "$root"/loadgen/latency/*.go | sha256sum | cut -c1-12)"
cache="${RAFTLINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/raftline}"
dir="$cache/nats-$version"
if [ -x "$dir/nats-server" ] && [ -x "$dir/nats" ] && [ -x "$dir/natsload" ]; then
  echo "$dir"
  exit 0
fi

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.nats-build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "building nats-server, nats and natsload into $dir (first time only, takes minutes)" >&2
(cd "$here" && export GOWORK=off CGO_ENABLED=0 &&
  go build -trimpath -o "$tmp/nats-server" github.com/nats-io/nats-server/v2 &&
  go build -trimpath -o "$tmp/nats" github.com/nats-io/natscli/nats &&
  go build -trimpath -o "$tmp/natsload" ./natsload)
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
