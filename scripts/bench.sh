#!/usr/bin/env bash
# make bench: the baseline scenarios, written as JSON under bench/results/ and
# as a summary table in docs/BENCHMARKS.md (with the machine they ran on).
# Starts a fresh `raftline dev` unless BROKERS is set to an existing cluster.
#
#   scripts/bench.sh                 # about 4 minutes
#   BROKERS=host:9092 scripts/bench.sh
#   BENCH_SECONDS=60 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-20}
WARM=${BENCH_WARMUP:-5}
OUT=bench/results
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

brokers=${BROKERS:-}
if [ -z "$brokers" ]; then
  brokers=127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
  ./bin/raftline dev --data-dir "$work/data" >"$work/dev.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    ok=1
    for p in 9644 9645 9646; do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null || ok=0; done
    [ $ok = 1 ] && break
    sleep 0.1
  done
fi

lg() { ./bin/loadgen "$@" --brokers "$brokers" --partitions 3 --warmup "${WARM}s" --duration "${SECS}s" --quiet; }

echo "== max throughput, 1 KiB, acks=all"
lg produce --topic bench-max --size 1024 --acks all --json "$OUT/max-1k.json"
max=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["produce"]["records_per_sec"]))' "$OUT/max-1k.json")
half=$((max / 2))
echo "== fixed rate at half of that ($half records/s), 1 KiB, acks=all"
lg produce --topic bench-half --size 1024 --acks all --rate "$half" --json "$OUT/half-1k.json"
echo "== end-to-end latency at 1000 records/s, 1 KiB"
lg e2e --topic bench-e2e --size 1024 --acks all --rate 1000 --verify --json "$OUT/e2e-1k.json"
echo "== max throughput, 100-byte records"
lg produce --topic bench-100b --size 100 --acks all --json "$OUT/max-100b.json"
echo "== max throughput, 16 KiB records"
lg produce --topic bench-16k --size 16384 --acks all --json "$OUT/max-16k.json"

python3 scripts/bench_summary.py "$OUT" docs/BENCHMARKS.md
echo "results: $OUT/*.json; summary: docs/BENCHMARKS.md"
