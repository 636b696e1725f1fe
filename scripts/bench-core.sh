#!/usr/bin/env bash
# bench-core: 1 KiB records, acks=all, through a fresh local 3-node cluster
# (`raftline dev`), several runs; prints each run and the median.
# Usage: scripts/bench-core.sh [runs] [seconds]   (defaults: 3 runs of 20 s)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SECS=${2:-20}
OUT=${BENCH_OUT:-bench/results/core}
mkdir -p bin "$OUT"
CGO_ENABLED=0 go build -o bin/raftline ./cmd/raftline
CGO_ENABLED=0 go build -o bin/loadgen ./cmd/loadgen

work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

ready() {
  for p in 9644 9645 9646; do
    curl -sf "http://127.0.0.1:$p/readyz" >/dev/null || return 1
  done
}

for i in $(seq 1 "$RUNS"); do
  rm -rf "$work/data"
  ./bin/raftline dev --data-dir "$work/data" >"$work/dev.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do ready && break; sleep 0.1; done
  ready || { echo "cluster did not become ready"; cat "$work/dev.log"; exit 1; }
  ./bin/loadgen produce --brokers 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094 \
    --topic core --partitions 3 --size 1024 --acks all \
    --warmup 5s --duration "${SECS}s" --quiet --json "$OUT/run-$i.json" >"$work/run-$i.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done

python3 - "$OUT" "$RUNS" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
rows = []
for i in range(1, runs + 1):
    r = json.load(open(f"{out}/run-{i}.json"))
    p, lat = r["produce"], r["publish_latency"]
    rows.append((p["records_per_sec"], p["mib_per_sec"] * 1.048576, lat["p50_us"] / 1000, lat["p99_us"] / 1000))
print(f"{'run':>4} {'records/s':>10} {'MB/s':>7} {'p50 ms':>8} {'p99 ms':>8}")
for i, (r, mb, p50, p99) in enumerate(rows, 1):
    print(f"{i:>4} {r:>10.0f} {mb:>7.1f} {p50:>8.2f} {p99:>8.2f}")
med = [statistics.median(c) for c in zip(*rows)]
print(f"{'med':>4} {med[0]:>10.0f} {med[1]:>7.1f} {med[2]:>8.2f} {med[3]:>8.2f}")
PY
