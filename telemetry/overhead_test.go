//go:build unix

package telemetry_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/server"
	"github.com/raftline/raftline/telemetry"
	"github.com/raftline/raftline/telemetry/jaegertest"
)

// overheadMode is one telemetry set-up the overhead benchmark compares.
type overheadMode string

const (
	modeOff     overheadMode = "off"     // no telemetry at all
	modeMetrics overheadMode = "metrics" // metrics on, tracing off: what `raftline serve` runs by default
	modeTracing overheadMode = "tracing" // metrics on, every write traced to a live Jaeger over OTLP
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkOverhead measures core throughput (1 KiB records, acks=all, a
// 3-node in-process cluster, 3 partitions) with telemetry off, metrics only,
// and metrics plus tracing sampled at 100% to a live Jaeger, side by side:
// each round runs every mode once, in a rotating order, on a fresh cluster.
// It reports each mode's median and the overheads against "off".
//
//	go test -run '^$' -bench '^BenchmarkOverhead$' -benchtime 1x -timeout 60m ./telemetry
//
// RAFTLINE_PERF_ROUNDS (default 5) and RAFTLINE_PERF_SECONDS (default 10)
// size the run; RAFTLINE_PERF_MODES (off,metrics,tracing) picks modes, for
// profiling one.
func BenchmarkOverhead(b *testing.B) {
	// The clusters of a run are torn down before the next starts; a limit
	// makes the collector return their memory instead of growing the heap.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(4 << 30))
	rounds := envInt("RAFTLINE_PERF_ROUNDS", 5)
	secs := envInt("RAFTLINE_PERF_SECONDS", 10)
	j := jaegertest.Start(b)
	modes := []overheadMode{modeOff, modeMetrics, modeTracing}
	if v := os.Getenv("RAFTLINE_PERF_MODES"); v != "" { // for profiling one mode
		modes = nil
		for _, m := range strings.Split(v, ",") {
			modes = append(modes, overheadMode(m))
		}
	}
	results := map[overheadMode][]float64{}
	cpu := map[overheadMode][]float64{} // process CPU µs per acknowledged record
	var exported, dropped float64
	for r := range rounds {
		for i := range modes {
			mode := modes[(i+r)%len(modes)]
			b.Run(fmt.Sprintf("round=%d/mode=%s", r+1, mode), func(b *testing.B) {
				rate, cpuPerRecord, exp, drop := overheadRun(b, mode, j, time.Duration(secs)*time.Second)
				results[mode] = append(results[mode], rate)
				cpu[mode] = append(cpu[mode], cpuPerRecord)
				exported += exp
				dropped += drop
				b.ReportMetric(rate, "records/s")
			})
		}
	}
	med, medCPU := map[overheadMode]float64{}, map[overheadMode]float64{}
	var lines []string
	for _, m := range modes {
		med[m], medCPU[m] = median(results[m]), median(cpu[m])
		var each []string
		for _, r := range results[m] {
			each = append(each, strconv.FormatFloat(r, 'f', 0, 64))
		}
		lines = append(lines, fmt.Sprintf("%-8s median %8.0f records/s, %5.2f CPU µs/record   runs %s", m, med[m], medCPU[m], strings.Join(each, " ")))
	}
	metricsCost := 100 * (1 - med[modeMetrics]/med[modeOff])
	tracingCost := 100 * (1 - med[modeTracing]/med[modeOff])
	// Runs of one round are adjacent in time: their ratios cancel slow
	// drifts of a shared machine.
	paired := func(m overheadMode) float64 {
		var rs []float64
		for i := range min(len(results[m]), len(results[modeOff])) {
			rs = append(rs, results[m][i]/results[modeOff][i])
		}
		if len(rs) == 0 {
			return 0
		}
		slices.Sort(rs)
		return 100 * (rs[len(rs)/2] - 1)
	}
	lines = append(lines,
		fmt.Sprintf("metrics on, tracing off: %+.1f%% throughput vs off, median of rounds' ratios %+.1f%% (target: drop < 2%%)", -metricsCost, paired(modeMetrics)),
		fmt.Sprintf("tracing 100%% to Jaeger:  %+.1f%% throughput vs off, median of rounds' ratios %+.1f%% (target: drop < 10%%)", -tracingCost, paired(modeTracing)),
		fmt.Sprintf("CPU per record vs off: metrics %+.1f%%, tracing %+.1f%% (the raftline process: 3 nodes and the producer; Jaeger not counted)",
			100*(medCPU[modeMetrics]/medCPU[modeOff]-1), 100*(medCPU[modeTracing]/medCPU[modeOff]-1)),
		fmt.Sprintf("spans exported %.0f, dropped %.0f (leaders, all tracing runs)", exported, dropped))
	// Printed rather than logged: a benchmark's log shows only with -v.
	fmt.Printf("telemetry overhead, %d rounds of %ds, 1 KiB records, acks=all, 3 nodes, 3 partitions:\n%s\n", rounds, secs, strings.Join(lines, "\n"))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// overheadRun starts a fresh cluster in mode and returns the acknowledged
// records per second over the measured window, the process CPU time per
// record, and, when tracing, the leader's exported and dropped span counts.
func overheadRun(b *testing.B, mode overheadMode, j *jaegertest.Jaeger, window time.Duration) (rate, cpuPerRecord, exported, dropped float64) {
	tels := map[int32]*telemetry.Telemetry{}
	opts := clustertest.Options{Nodes: 3, Configure: func(cfg *server.Config) {
		// Three nodes in one process keep every partition in memory:
		// bound what a run accumulates.
		cfg.DefaultRetentionBytes = 64 << 20
		cfg.RetentionInterval = time.Second
		if mode == modeOff {
			return
		}
		tc := telemetry.Config{NodeID: cfg.NodeID, Version: "bench"}
		if mode == modeTracing {
			tc.ServiceName = "raftline-bench"
			tc.Tracing = telemetry.TracingConfig{Endpoint: j.OTLPGRPC, Protocol: telemetry.ProtocolGRPC, Sampler: "always_on"}
		}
		tel, err := telemetry.New(tc)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tel.Shutdown(ctx)
		})
		tel.Configure(cfg)
		tels[cfg.NodeID] = tel
	}}
	c := clustertest.Start(b, opts)
	c.CreateTopic("perf", 3)
	// Batches of at most 128 KiB: each is one Raft entry, and every node
	// caches its last 4096 entries in memory.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.KafkaAddrs()...), kgo.DefaultProduceTopic("perf"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MaxBufferedRecords(8192), kgo.ProducerBatchMaxBytes(128<<10))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()

	// Values are distinct 1 KiB windows of random bytes, as the load
	// generator sends: batches do not compress, so the client sends them
	// uncompressed.
	pool := make([]byte, 4<<20)
	rand.Read(pool)
	var acked atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for off := 0; ctx.Err() == nil; off = (off + 4099) % (len(pool) - 1024) {
			cl.Produce(ctx, &kgo.Record{Value: pool[off : off+1024]}, func(_ *kgo.Record, err error) {
				if err == nil {
					acked.Add(1)
				}
			})
		}
	}()
	time.Sleep(3 * time.Second) // warm-up: connections, batching, caches
	start, n0, c0 := time.Now(), acked.Load(), cpuTime()
	time.Sleep(window)
	n1, elapsed, c1 := acked.Load(), time.Since(start), cpuTime()
	cancel()
	<-done
	if n1 == n0 {
		b.Fatalf("%s: nothing acknowledged in %v", mode, window)
	}
	if mode == modeTracing {
		st := tels[c.Leader().ID].QueueStats()
		exported, dropped = float64(st.Exported), float64(st.DroppedFull+st.ExportFailed)
	}
	// Tear down now, not at cleanup: the benchmark keeps its finished
	// sub-benchmarks, and the next run needs the memory and CPU.
	for _, n := range c.Nodes {
		c.Kill(n)
	}
	for _, tel := range tels {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		tel.Shutdown(sctx)
		scancel()
	}
	return float64(n1-n0) / elapsed.Seconds(), float64((c1 - c0).Microseconds()) / float64(n1-n0), exported, dropped
}
