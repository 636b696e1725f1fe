#!/usr/bin/env bash
# bench-peers: raftline beside NATS JetStream, both three replicas on this
# machine, measured with the same shapes (1 KiB values, no compression):
#
#   sync-1p    one producer, one publish in flight at a time
#   rate-1000  1,000 records/s on a fixed schedule, latency from intended send
#   max-1p     as fast as acknowledged, one producer
#   max-4p     as fast as acknowledged, four producers
#
# Three systems per run, each on a fresh cluster: JetStream as it is by
# default (file storage, R3; it fsyncs every 2 minutes, not per message),
# JetStream with `sync_interval: always` (fsync per write, like raftline's
# Raft log), and `raftline dev` (acks=all; Raft fsyncs every append).
# Runs are interleaved, the order of the systems reversed on every other run,
# so all see the same machine noise. JSON results go to bench/results/peers/,
# and bench/peers writes the medians and ratios into docs/BENCHMARKS.md.
#
# Usage: scripts/bench-peers.sh [runs] [seconds]   (defaults: 3 runs of 10 s
#   per shape, after 2 s of warmup; WARMUP=5 changes that)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SECS=${2:-10}
WARMUP=${WARMUP:-2}
OUT=${BENCH_OUT:-bench/results/peers}
# Ports away from `raftline dev`'s and NATS's defaults, so a cluster
# someone else runs on this machine is neither measured nor disturbed.
KAFKA_PORT=19092 HTTP_PORT=19644 RAFT_PORT=19192
NATS_PORT=14222 NATS_CLUSTER_PORT=16222 NATS_HTTP_PORT=18222

nats_dir=$(./tools/nats/build.sh)
mkdir -p bin "$OUT"
CGO_ENABLED=0 go build -o bin/raftline ./cmd/raftline
CGO_ENABLED=0 go build -o bin/loadgen ./cmd/loadgen
rm -f "$OUT"/*.json

work=$(mktemp -d)
pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() { stop; rm -rf "$work"; }
trap cleanup EXIT

# wait_for DESCRIPTION COMMAND...: polls COMMAND for up to 30 s.
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 300); do "$@" && return 0; sleep 0.1; done
  echo "$what did not become ready; logs:"; tail -n 20 "$work"/*.log; exit 1
}

raftline_ready() {
  for i in 0 1 2; do curl -sf "http://127.0.0.1:$((HTTP_PORT + i))/readyz" >/dev/null || return 1; done
}

nats_ready() {
  for i in 0 1 2; do
    curl -sf "http://127.0.0.1:$((NATS_HTTP_PORT + i))/healthz?js-enabled-only=true" >/dev/null || return 1
  done
}

# start_jetstream SYNC: three nats-server processes, one cluster, JetStream on
# file storage in the work directory; SYNC is the sync_interval, or empty
# for the default.
start_jetstream() {
  rm -rf "$work/nats"
  local routes="nats://127.0.0.1:$NATS_CLUSTER_PORT,nats://127.0.0.1:$((NATS_CLUSTER_PORT + 1)),nats://127.0.0.1:$((NATS_CLUSTER_PORT + 2))"
  for i in 0 1 2; do
    mkdir -p "$work/nats/n$i"
    cat >"$work/nats/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$((NATS_PORT + i))
http: 127.0.0.1:$((NATS_HTTP_PORT + i))
jetstream {
  store_dir: "$work/nats/n$i"
  ${1:+sync_interval: $1}
}
cluster {
  name: bench
  listen: 127.0.0.1:$((NATS_CLUSTER_PORT + i))
  routes: [$routes]
}
CONF
    "$nats_dir/nats-server" -c "$work/nats/n$i.conf" >"$work/nats-$i.log" 2>&1 &
    pids+=($!)
  done
  wait_for "JetStream cluster" nats_ready
}

start_raftline() {
  rm -rf "$work/raftline"
  ./bin/raftline dev --data-dir "$work/raftline" --kafka-port $KAFKA_PORT \
    --http-port $HTTP_PORT --raft-port $RAFT_PORT >"$work/raftline.log" 2>&1 &
  pids+=($!)
  wait_for "raftline cluster" raftline_ready
}

# The shapes, in the order they run on each cluster: the latency shapes
# first, so no backlog of the throughput shapes is in them.
shapes=(sync-1p rate-1000 max-1p max-4p)

loadgen_args() {
  case $1 in
    sync-1p) echo "--producers 1 --max-buffered 1 --linger 0" ;;
    rate-1000) echo "--producers 1 --rate 1000 --linger 0" ;;
    max-1p) echo "--producers 1" ;;
    max-4p) echo "--producers 4" ;;
  esac
}

natsload_args() {
  case $1 in
    sync-1p) echo "--producers 1 --sync" ;;
    rate-1000) echo "--producers 1 --rate 1000" ;;
    max-1p) echo "--producers 1" ;;
    max-4p) echo "--producers 4" ;;
  esac
}

# summary JSON: the line natsload prints, for a loadgen result.
summary() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p, l = r["produce"], r["publish_latency"]
print(f"{p['records_per_sec']:.0f} records/s  p50 {l['p50_us'] / 1000:.2f} ms  p99 {l['p99_us'] / 1000:.2f} ms  errors {p.get('errors') or {}}")
PY
}

# measure SYSTEM RUN
measure() {
  local system=$1 run=$2 shape
  case $system in
    jetstream) start_jetstream "" ;;
    jetstream-sync) start_jetstream always ;;
    raftline) start_raftline ;;
  esac
  for shape in "${shapes[@]}"; do
    local json="$OUT/$system-$shape-$run.json"
    printf '%-15s run %s %-10s ' "$system" "$run" "$shape"
    if [ "$system" = raftline ]; then
      # shellcheck disable=SC2046
      ./bin/loadgen produce --brokers "127.0.0.1:$KAFKA_PORT,127.0.0.1:$((KAFKA_PORT + 1)),127.0.0.1:$((KAFKA_PORT + 2))" \
        --topic "peers-$shape" --partitions 3 --size 1024 --acks all --compression none \
        $(loadgen_args "$shape") --warmup "${WARMUP}s" --duration "${SECS}s" --quiet --json "$json" >"$work/loadgen.txt" 2>&1
      rm -f "${json%.json}.html"
      summary "$json"
    else
      # shellcheck disable=SC2046
      "$nats_dir/natsload" --servers "nats://127.0.0.1:$NATS_PORT,nats://127.0.0.1:$((NATS_PORT + 1)),nats://127.0.0.1:$((NATS_PORT + 2))" \
        --stream "peers-$shape" --replicas 3 --size 1024 \
        $(natsload_args "$shape") --warmup "${WARMUP}s" --duration "${SECS}s" --json "$json"
    fi
  done
  stop
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
systems=(jetstream jetstream-sync raftline)
for run in $(seq 1 "$RUNS"); do
  if [ $((run % 2)) -eq 1 ]; then order=("${systems[@]}"); else order=(raftline jetstream-sync jetstream); fi
  for system in "${order[@]}"; do measure "$system" "$run"; done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

go run ./bench/peers --results "$OUT" --runs "$RUNS" --seconds "$SECS" --warmup "$WARMUP" \
  --nats-version "$(cd tools/nats && GOWORK=off go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)" \
  --load "$load_before -> $load_after" --doc docs/BENCHMARKS.md
