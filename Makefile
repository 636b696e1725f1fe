# raftline — see README.md. `make run` starts a local 3-node cluster,
# `make test` runs every test (installing the tools they need first).

GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/raftline/raftline/broker/server.Version=$(VERSION)
# Fuzz budgets are execution counts, not durations: Go 1.26's fuzz coordinator
# can fail a target with "context deadline exceeded" when a -fuzztime duration
# ends while a worker is mid-input (golang/go#75804, fixed in Go 1.27); a count
# has no deadline to race. Each target's count below takes about 1-10 s here;
# FUZZTIME=N (a count such as 5000000x, or a duration) overrides them all.
FUZZTIME ?=
fuzztime = $(if $(FUZZTIME),$(FUZZTIME),$(1))

.PHONY: all build run test tools vet unit system chaos fuzz bench-telemetry image up down down-volumes load bench bench-core bench-core-compare bench-storage bench-groups bench-peers soak dashboards alerts metrics-doc compat-doc clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/raftline ./cmd/raftline

run: build
	./$(BIN)/raftline dev

tools:
	./scripts/ensure-tools.sh
	./tools/jaeger/build.sh >/dev/null
	./tools/otelcol/build.sh >/dev/null

vet:
	$(GO) vet ./...

# Package tests, including in-process clusters.
unit:
	$(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v '/test/')

# System tests against the real binary, real clients and real services, one
# package at a time so their clusters do not compete for the two cores.
system:
	$(GO) test -count=1 -p 1 -timeout 60m ./test/...

# Each fuzz target runs briefly on every test run; longer runs:
# make fuzz FUZZTIME=20000000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(call fuzztime,100000x) ./broker/kafka
	$(GO) test -run '^$$' -fuzz '^FuzzReadFrame$$' -fuzztime $(call fuzztime,100000x) ./broker/kafka
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCommand$$' -fuzztime $(call fuzztime,300000x) ./broker/fsm
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime $(call fuzztime,100000x) ./broker/groups
	$(GO) test -run '^$$' -fuzz '^FuzzParseBatch$$' -fuzztime $(call fuzztime,500000x) ./broker/recordbatch
	$(GO) test -run '^$$' -fuzz '^FuzzFirstAtOrAfter$$' -fuzztime $(call fuzztime,200000x) ./broker/recordbatch/recordscan
	$(GO) test -run '^$$' -fuzz '^FuzzOpenSegment$$' -fuzztime $(call fuzztime,1500x) ./broker/seglog
	$(GO) test -run '^$$' -fuzz '^FuzzReadIndex$$' -fuzztime $(call fuzztime,100000x) ./broker/seglog
	$(GO) test -run '^$$' -fuzz '^FuzzReceive$$' -fuzztime $(call fuzztime,20000x) ./broker/snapstore
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeContext$$' -fuzztime $(call fuzztime,100000x) ./telemetry/tracing
	$(GO) test -run '^$$' -fuzz '^FuzzProducerContexts$$' -fuzztime $(call fuzztime,40000x) ./telemetry/tracing

test: tools vet unit fuzz system chaos

# Failure, recovery and network-chaos scenarios in network namespaces (root).
# Behind the chaos build tag so `system` does not run them twice.
chaos:
	$(GO) vet -tags chaos ./test/chaos/...
	$(GO) test -tags chaos -count=1 -p 1 -timeout 20m -v ./test/chaos/...

# 1 KiB acks=all through a fresh local cluster, 3 runs, median printed.
bench-core:
	./scripts/bench-core.sh 3 20

# The same workload against BASE (a git revision) and the working tree, runs
# interleaved, with the ratio of medians: make bench-core-compare BASE=main~1
BASE ?= HEAD~1
bench-core-compare:
	./scripts/bench-core-compare.sh $(BASE) 3 20

# The storage engine's figures, disk and memory side by side: bench-core's
# workload, RSS after writing 5 GiB, fetch hot and cold, whole-cluster
# restarts (about 30 minutes; root, to drop the page cache; see
# docs/BENCHMARKS.md). Flags: make bench-storage BENCH_STORAGE_ARGS='--runs 5'
bench-storage:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/raftline ./cmd/raftline
	CGO_ENABLED=0 $(GO) build -o $(BIN)/loadgen ./cmd/loadgen
	$(GO) run ./bench/storage --json bench/results/storage.json $(BENCH_STORAGE_ARGS)

# Consumer-group figures: rebalance time of a 3-member group on a leave, a
# join and a leader failover, and end-to-end latency through a group beside
# the same without one at 1,000 and 20,000 records/s (about 8 minutes; see
# docs/BENCHMARKS.md). Flags: make bench-groups BENCH_GROUPS_ARGS='--runs 3'
bench-groups:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/raftline ./cmd/raftline
	$(GO) run ./bench/groups --raftline $(BIN)/raftline --json bench/results/groups.json $(BENCH_GROUPS_ARGS)

# raftline beside NATS JetStream (3 replicas each, on this machine), the same
# shapes measured by one method, runs interleaved; medians and ratios into
# docs/BENCHMARKS.md. Builds nats-server and the nats CLI from the Go module
# proxy the first time (tools/nats). About 2.5 minutes per run at 10 s per
# shape: make bench-peers BENCH_PEERS_RUNS=5 BENCH_PEERS_SECONDS=20
BENCH_PEERS_RUNS ?= 3
BENCH_PEERS_SECONDS ?= 10
bench-peers:
	./scripts/bench-peers.sh $(BENCH_PEERS_RUNS) $(BENCH_PEERS_SECONDS)

# A long mixed-load run: loadgen e2e verified through a consumer group, a
# node restarted every few minutes, each node's memory, goroutines, open
# files and data directory sampled; fails on growth that does not level
# off, a lost record or replicas that differ. Writes soak.csv, soak.html and
# e2e.html under bench/results/soak/ (see docs/BENCHMARKS.md). Not part of
# `make test`. Flags: make soak SOAK_DURATION=1h SOAK_ARGS='--rate 1000'
SOAK_DURATION ?= 1h
soak:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/raftline ./cmd/raftline
	$(GO) run ./bench/soak --raftline $(BIN)/raftline --duration $(SOAK_DURATION) $(SOAK_ARGS)

# The load generator's baseline scenarios; JSON and HTML reports under
# bench/results/, summary linking them in docs/BENCHMARKS.md.
# BROKERS=host:port,... uses an existing cluster.
bench:
	./scripts/bench.sh

# Telemetry overhead: off / metrics / tracing 100% to Jaeger, side by side.
bench-telemetry:
	$(GO) test -run '^$$' -bench '^BenchmarkOverhead$$' -benchtime 1x -timeout 60m ./telemetry

# Regenerate the committed observability bundle (tests fail when stale).
dashboards:
	$(GO) generate ./dashboards/...

alerts:
	$(GO) generate ./alerts/...
	promtool check rules alerts/rules.yml
	promtool test rules alerts/testdata/*.test.yml
	amtool check-config compose/alertmanager.yml

metrics-doc:
	$(GO) generate ./telemetry/catalog/...

# docs/COMPATIBILITY.md's API and client matrix sections, from the table in
# test/compat/matrix that the compatibility suite runs.
compat-doc:
	$(GO) generate ./test/compat/matrix/...

# The Docker Compose stack in compose/ (see compose/compose.yaml). Images are
# built FROM scratch out of static binaries built here, so nothing is pulled.
image:
	GO=$(GO) RAFTLINE_VERSION=$(VERSION) ./compose/stack.sh image

up: image
	./compose/stack.sh up

down:
	./compose/stack.sh down

down-volumes:
	./compose/stack.sh down-volumes

load:
	./compose/stack.sh load

clean:
	rm -rf $(BIN) data
