package telemetry_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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
	var exported, dropped float64
	for r := range rounds {
		for i := range modes {
			mode := modes[(i+r)%len(modes)]
			b.Run(fmt.Sprintf("round=%d/mode=%s", r+1, mode), func(b *testing.B) {
				rate, exp, drop := overheadRun(b, mode, j, time.Duration(secs)*time.Second)
				results[mode] = append(results[mode], rate)
				exported += exp
				dropped += drop
				b.ReportMetric(rate, "records/s")
			})
		}
	}
	med := map[overheadMode]float64{}
	var lines []string
	for _, m := range modes {
		rs := slices.Clone(results[m])
		slices.Sort(rs)
		med[m] = rs[len(rs)/2]
		if len(rs)%2 == 0 {
			med[m] = (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
		}
		var each []string
		for _, r := range results[m] {
			each = append(each, strconv.FormatFloat(r, 'f', 0, 64))
		}
		lines = append(lines, fmt.Sprintf("%-8s median %8.0f records/s   runs %s", m, med[m], strings.Join(each, " ")))
	}
	metricsCost := 100 * (1 - med[modeMetrics]/med[modeOff])
	tracingCost := 100 * (1 - med[modeTracing]/med[modeOff])
	lines = append(lines,
		fmt.Sprintf("metrics on, tracing off: %+.1f%% throughput vs off (target: drop < 2%%)", -metricsCost),
		fmt.Sprintf("tracing 100%% to Jaeger:  %+.1f%% throughput vs off (target: drop < 10%%)", -tracingCost),
		fmt.Sprintf("spans exported %.0f, dropped %.0f (leaders, all tracing runs)", exported, dropped))
	// Printed rather than logged: a benchmark's log shows only with -v.
	fmt.Printf("telemetry overhead, %d rounds of %ds, 1 KiB records, acks=all, 3 nodes, 3 partitions:\n%s\n", rounds, secs, strings.Join(lines, "\n"))
	b.ReportMetric(med[modeOff], "off_records/s")
	b.ReportMetric(med[modeMetrics], "metrics_records/s")
	b.ReportMetric(med[modeTracing], "tracing_records/s")
	b.ReportMetric(metricsCost, "metrics_drop_%")
	b.ReportMetric(tracingCost, "tracing_drop_%")
}

// overheadRun starts a fresh cluster in mode and returns the acknowledged
// records per second over the measured window, and, when tracing, the
// leader's exported and dropped span counts.
func overheadRun(b *testing.B, mode overheadMode, j *jaegertest.Jaeger, window time.Duration) (rate, exported, dropped float64) {
	opts := clustertest.Options{Nodes: 3}
	tels := map[int32]*telemetry.Telemetry{}
	if mode != modeOff {
		opts.Configure = func(cfg *server.Config) {
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
		}
	}
	c := clustertest.Start(b, opts)
	createTopic(b, c, "perf", 3)
	cl := c.Client(kgo.DefaultProduceTopic("perf"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MaxBufferedRecords(8192))

	value := make([]byte, 1024)
	rand.Read(value)
	var acked atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
				if err == nil {
					acked.Add(1)
				}
			})
		}
	}()
	time.Sleep(3 * time.Second) // warm-up: connections, batching, caches
	start, n0 := time.Now(), acked.Load()
	time.Sleep(window)
	n1, elapsed := acked.Load(), time.Since(start)
	cancel()
	<-done
	if n1 == n0 {
		b.Fatalf("%s: nothing acknowledged in %v", mode, window)
	}
	if mode == modeTracing {
		st := tels[c.Leader().ID].QueueStats()
		exported, dropped = float64(st.Exported), float64(st.DroppedFull+st.ExportFailed)
	}
	return float64(n1-n0) / elapsed.Seconds(), exported, dropped
}
