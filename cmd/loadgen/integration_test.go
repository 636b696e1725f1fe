package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/internal/chromium"
	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/internal/testports"
	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/kafka"
	"github.com/raftline/raftline/loadgen/report"
)

// TestIntegration_RaftlineDev builds raftline, starts its 3-node local
// cluster on reserved ports (internal/testports) in a temporary directory, and runs each loadgen
// command against it, checking the JSON results.
func TestIntegration_RaftlineDev(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a 3-node raftline cluster")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "raftline")); err != nil {
		t.Fatalf("cmd/raftline is missing: %v", err)
	}
	brokers := startDevCluster(t, root)

	dir := t.TempDir()
	common := []string{"--brokers", brokers, "--topic", "loadgen-it", "--partitions", "3", "--quiet"}

	p := filepath.Join(dir, "produce.json")
	mustRun(t, exitOK, append([]string{"produce", "--records", "5000", "--size", "512", "--verify", "--json", p}, common...)...)
	res := mustRead(t, p)
	if v := res.Verify; v == nil || !v.OK() || v.Acked != 5000 || v.Consumed != 5000 {
		t.Errorf("produce --verify: %v", v)
	}
	if res.Produce.Records != 5000 || res.Produce.Bytes != 5000*512 || res.Publish.Count != 5000 || len(res.Series) == 0 {
		t.Errorf("produce result: %+v publish %+v, %d samples", res.Produce, res.Publish, len(res.Series))
	}
	t.Logf("produce: %.0f records/s, publish p99 %dµs", res.Produce.RecordsPerSec, res.Publish.P99Micros)

	c := filepath.Join(dir, "consume.json")
	mustRun(t, exitOK, append([]string{"consume", "--records", "5000", "--consumers", "3", "--json", c}, common...)...)
	res = mustRead(t, c)
	if res.Consume.Records != 5000 || res.EndToEnd.Count != 5000 || res.Consume.ErrorCount() != 0 {
		t.Errorf("consume result: %+v e2e %+v", res.Consume, res.EndToEnd)
	}

	e := filepath.Join(dir, "e2e.json")
	mustRun(t, exitOK, append([]string{"e2e", "--rate", "1000", "--duration", "2s", "--warmup", "500ms",
		"--producers", "2", "--consumers", "3", "--keys", "50", "--verify", "--json", e}, common...)...)
	res = mustRead(t, e)
	// 1000/s for 2s after 500ms of warmup: every one of the 2500 scheduled
	// records is sent, acknowledged and consumed exactly once.
	if v := res.Verify; v == nil || !v.OK() || v.Acked != 2500 {
		t.Errorf("e2e --verify: %v", v)
	}
	if res.Produce.Sent != 2000 || res.Publish.Count != 2000 || res.EndToEnd.Count != 2000 {
		t.Errorf("e2e: sent %d after warmup, latencies of %d and %d records; want 2000",
			res.Produce.Sent, res.Publish.Count, res.EndToEnd.Count)
	}
	if res.Produce.Records == 0 || res.Consume.Records == 0 {
		t.Errorf("e2e: nothing in the measured window: %+v %+v", res.Produce, res.Consume)
	}
	if res.Publish.Count == 0 || res.EndToEnd.Count == 0 || res.EndToEnd.P99Micros < res.EndToEnd.P50Micros {
		t.Errorf("e2e latencies: publish %+v e2e %+v", res.Publish, res.EndToEnd)
	}
	t.Logf("e2e at 1000/s: publish p99 %dµs, end-to-end p99 %dµs", res.Publish.P99Micros, res.EndToEnd.P99Micros)
	// Its HTML report, beside the JSON, as a browser draws it: the errors
	// chart has all errors and each kind seen.
	kinds := map[string]bool{}
	for _, s := range res.Series {
		for k := range s.Errors {
			kinds[k] = true
		}
	}
	chromium.Start(t).Open(t, filepath.Join(dir, "e2e.html")).CheckCharts(t, "e2e.html", map[string]int{
		report.ChartThroughput: 2, report.ChartPublishOverTime: 3, report.ChartE2EOverTime: 3,
		report.ChartDistribution: 2, report.ChartErrors: 1 + len(kinds)})

	t.Run("group", func(t *testing.T) { testRaftlineGroup(t, dir, common) })
}

// testRaftlineGroup runs e2e and consume through consumer groups of the
// cluster's coordinator: three members share the partitions, every record
// is consumed exactly once (a healthy group does not redeliver), and the
// lag is reported over time, by the run and by the broker's committed
// offsets, ending at 0 once the members have left.
func testRaftlineGroup(t *testing.T, dir string, common []string) {
	e := filepath.Join(dir, "e2e-group.json")
	mustRun(t, exitOK, append([]string{"e2e", "--rate", "1000", "--duration", "3s", "--producers", "2", "--consumers", "3",
		"--group", "loadgen-it-e2e", "--keys", "50", "--verify", "--json", e}, common...)...)
	res := mustRead(t, e)
	if v := res.Verify; v == nil || !v.OK() || v.Acked != 3000 {
		t.Errorf("e2e --group --verify: %v", v)
	}
	l := res.Lag
	if l == nil || l.Records == nil || l.Committed == nil {
		t.Fatalf("e2e --group: lag summary %+v", l)
	}
	if l.Records.Final != 0 || l.Committed.Final != 0 {
		t.Errorf("e2e --group: lag at the end: records %+v committed %+v, want 0 once consumed and committed", *l.Records, *l.Committed)
	}
	committedSeen := 0
	for _, s := range res.Series {
		if s.Lag == nil {
			t.Errorf("sample at %.2fs has no lag", s.At)
		}
		if s.CommittedLag != nil {
			committedSeen++
		}
	}
	if committedSeen < 1 {
		t.Errorf("the group's committed lag was known in %d of %d samples", committedSeen, len(res.Series))
	}
	t.Logf("e2e --group at 1000/s: end-to-end p50 %dµs p99 %dµs; lag max %d records, committed lag max %d",
		res.EndToEnd.P50Micros, res.EndToEnd.P99Micros, l.Records.Max, l.Committed.Max)

	// A new group reads the topic from its start; a second run of the same
	// group resumes where the first committed and reads the rest.
	c := filepath.Join(dir, "consume-group.json")
	mustRun(t, exitOK, append([]string{"consume", "--records", "4000", "--duration", "60s", "--consumers", "2", "--group", "loadgen-it-consume", "--json", c}, common...)...)
	first := mustRead(t, c)
	if first.Consume.Records != 4000 || first.Consume.ErrorCount() != 0 {
		t.Errorf("consume --group: %+v", first.Consume)
	}
	if first.Lag == nil || first.Lag.Committed == nil {
		t.Fatalf("consume --group: no committed lag: %+v", first.Lag)
	}
	// The topic holds produce's 5000, e2e's 2500 and e2e --group's 3000.
	// The members commit what they polled, which may be a little more
	// than the 4000 counted.
	const total = 5000 + 2500 + 3000
	rest := first.Lag.Committed.Final
	if rest <= 0 || rest > total-4000 {
		t.Fatalf("consume --group: committed lag %d after reading 4000 of %d records, want (0, %d]", rest, total, total-4000)
	}
	mustRun(t, exitOK, append([]string{"consume", "--records", strconv.FormatInt(rest, 10), "--duration", "60s", "--group", "loadgen-it-consume", "--json", c}, common...)...)
	second := mustRead(t, c)
	if second.Consume.Records != rest || second.Lag == nil || second.Lag.Committed == nil || second.Lag.Committed.Final != 0 {
		t.Errorf("consume --group, resumed: %+v lag %+v", second.Consume, second.Lag)
	}
}

// startDevCluster runs `raftline dev` until the test ends and returns its
// Kafka addresses once the cluster accepts a topic.
func startDevCluster(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "raftline")
	build := exec.Command(goTool(), "build", "-o", bin, "./cmd/raftline")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building raftline: %v\n%s", err, out)
	}

	// Kafka, HTTP and Raft, three nodes each, held until the test ends;
	// reserved before the cleanup below, so released after it.
	ports := testports.Reserve(t, 9)
	kafkaPort, httpPort, raftPort := ports[0], ports[3], ports[6]
	logPath := filepath.Join(t.TempDir(), "raftline.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "dev", "--data-dir", t.TempDir(),
		"--kafka-port", strconv.Itoa(kafkaPort), "--http-port", strconv.Itoa(httpPort), "--raft-port", strconv.Itoa(raftPort))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("raftline log (last 4KiB):\n%s", tail(b, 4096))
			}
		}
	})

	// The cluster `raftline dev` makes of those flags.
	addrs := clusterspec.Local("127.0.0.1", "", 3, kafkaPort, httpPort, raftPort).KafkaAddrs()
	// Ready once a topic can be created and all its partitions have leaders.
	cfg := loadgen.Config{Brokers: addrs, Topic: "loadgen-it-ready", Partitions: 1, Replication: -1}
	clients, err := kafka.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		if _, err = clients.EnsureTopic(ctx); err == nil {
			return strings.Join(addrs, ",")
		}
		select {
		case err := <-exited:
			t.Fatalf("raftline dev exited: %v", err)
		case <-ctx.Done():
			t.Fatalf("raftline dev not ready after 60s: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
