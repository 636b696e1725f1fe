#!/usr/bin/env bash
# bench-core-compare: the bench-core workload (1 KiB records, acks=all, fresh
# local 3-node cluster per run) against two builds of raftline, runs
# interleaved (base, head, head, base, ...) so both see the same machine noise.
# Prints every run, each build's median and the ratio of the medians.
# Usage: scripts/bench-core-compare.sh BASE_REV [runs per build] [seconds]
#   (defaults: 3 runs of 20 s each; HEAD is the working tree)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?usage: scripts/bench-core-compare.sh BASE_REV [runs] [seconds]}
RUNS=${2:-3}
SECS=${3:-20}
root=$(pwd)
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  git -C "$root" worktree remove --force "$work/base-src" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

git worktree add -q --detach "$work/base-src" "$BASE"
(cd "$work/base-src" && CGO_ENABLED=0 go build -o "$work/base" ./cmd/raftline)
CGO_ENABLED=0 go build -o "$work/head" ./cmd/raftline
CGO_ENABLED=0 go build -o "$work/loadgen" ./cmd/loadgen

ready() {
  for p in 9644 9645 9646; do
    curl -sf "http://127.0.0.1:$p/readyz" >/dev/null || return 1
  done
}

run() { # run BUILD N
  rm -rf "$work/data"
  "$work/$1" dev --data-dir "$work/data" >"$work/dev.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do ready && break; sleep 0.1; done
  ready || { echo "cluster ($1) did not become ready"; cat "$work/dev.log"; exit 1; }
  "$work/loadgen" produce --brokers 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094 \
    --topic core --partitions 3 --size 1024 --acks all \
    --warmup 5s --duration "${SECS}s" --quiet --json "$work/$1-$2.json" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) -eq 1 ]; then run base "$i"; run head "$i"; else run head "$i"; run base "$i"; fi
done

python3 - "$work" "$RUNS" "$BASE" <<'PY'
import json, statistics, sys
work, runs, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def load(b):
    rows = []
    for i in range(1, runs + 1):
        r = json.load(open(f"{work}/{b}-{i}.json"))
        rows.append((r["produce"]["records_per_sec"], r["publish_latency"]["p50_us"] / 1000, r["publish_latency"]["p99_us"] / 1000))
    return rows
res = {"base": load("base"), "head": load("head")}
print(f"{'build':>6} {'run':>4} {'records/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
for b in ("base", "head"):
    for i, (r, p50, p99) in enumerate(res[b], 1):
        print(f"{b:>6} {i:>4} {r:>10.0f} {p50:>8.2f} {p99:>8.2f}")
med = {b: [statistics.median(c) for c in zip(*res[b])] for b in res}
for b in ("base", "head"):
    print(f"{b:>6} {'med':>4} {med[b][0]:>10.0f} {med[b][1]:>8.2f} {med[b][2]:>8.2f}")
print(f"head/base records/s median ratio: {med['head'][0] / med['base'][0]:.3f} (base = {base})")
PY
