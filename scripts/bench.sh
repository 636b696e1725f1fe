#!/usr/bin/env bash
# make bench: the baseline scenarios, written as JSON under bench/results/,
# each with its HTML report beside it (NAME.html: throughput, latency and
# errors over time, the latency percentile plot, overlaid on the previous
# result of the scenario when there is one), and as a summary table in
# docs/BENCHMARKS.md (with the machine they ran on) that links the reports.
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

# The previous results, which each scenario's report overlays.
mkdir -p "$work/prev"
for f in "$OUT"/{max-1k,half-1k,e2e-1k,max-100b,max-16k}.json; do
  if [ -f "$f" ] && ./bin/loadgen report --out /dev/null "$f" >/dev/null 2>&1; then cp "$f" "$work/prev/"; fi
done

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

# lg NAME COMMAND FLAGS...: one scenario, its result in $OUT/NAME.json and
# its report in $OUT/NAME.html.
lg() {
  local name=$1
  shift
  local cmp=()
  if [ -f "$work/prev/$name.json" ]; then cmp=(--compare "$work/prev/$name.json"); fi
  ./bin/loadgen "$@" --brokers "$brokers" --partitions 3 --warmup "${WARM}s" --duration "${SECS}s" --quiet \
    --json "$OUT/$name.json" "${cmp[@]}"
}

echo "== max throughput, 1 KiB, acks=all"
lg max-1k produce --topic bench-max --size 1024 --acks all
max=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["produce"]["records_per_sec"]))' "$OUT/max-1k.json")
half=$((max / 2))
if [ "$half" -lt 1 ]; then
  # --rate 0 would be another max-rate run, not the fixed-rate scenario.
  echo "max throughput run measured $max records/s: no fixed rate to run at half of it" >&2
  exit 1
fi
echo "== fixed rate at half of that ($half records/s), 1 KiB, acks=all"
lg half-1k produce --topic bench-half --size 1024 --acks all --rate "$half"
echo "== end-to-end latency at 1000 records/s, 1 KiB"
lg e2e-1k e2e --topic bench-e2e --size 1024 --acks all --rate 1000 --verify
echo "== max throughput, 100-byte records"
lg max-100b produce --topic bench-100b --size 100 --acks all
echo "== max throughput, 16 KiB records"
lg max-16k produce --topic bench-16k --size 16384 --acks all

python3 scripts/bench_summary.py "$OUT" docs/BENCHMARKS.md
echo "results: $OUT/*.json, reports: $OUT/*.html; summary: docs/BENCHMARKS.md"
