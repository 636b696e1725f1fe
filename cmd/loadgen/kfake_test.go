package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/loadgen"
)

// These tests run the whole command against franz-go's in-process fake
// Kafka cluster, so the franz-go wiring, the flags and the JSON are tested
// without a real broker. integration_test.go does the same against raftline.

func fakeBrokers(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// mustRun runs loadgen and fails the test unless it exits with want.
func mustRun(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, stdout, stderr := runCLI(t, args...)
	if code != want {
		t.Fatalf("loadgen %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout
}

func mustRead(t *testing.T, path string) loadgen.Result {
	t.Helper()
	res, err := readResult(path)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCLI_Fake_ProduceConsumeE2E(t *testing.T) {
	brokers := fakeBrokers(t)
	dir := t.TempDir()
	common := []string{"--brokers", brokers, "--topic", "bench", "--partitions", "3", "--quiet"}

	p := filepath.Join(dir, "produce.json")
	out := mustRun(t, exitOK, append([]string{"produce", "--records", "3000", "--verify", "--json", p,
		"--keys", "random", "--compression", "lz4"}, common...)...)
	if !strings.Contains(out, "verify OK: acked 3000, consumed 3000, lost 0") {
		t.Errorf("produce output:\n%s", out)
	}
	res := mustRead(t, p)
	if res.Produce.Records != 3000 || res.Verify == nil || !res.Verify.OK() || res.Publish.Count != 3000 {
		t.Errorf("produce result: %+v %+v", res.Produce, res.Verify)
	}
	if res.Config.Compression != "lz4" || res.Machine.CPUs == 0 || len(res.Series) == 0 {
		t.Errorf("config %+v machine %+v series %d", res.Config, res.Machine, len(res.Series))
	}

	c := filepath.Join(dir, "consume.json")
	mustRun(t, exitOK, append([]string{"consume", "--records", "3000", "--consumers", "3", "--json", c}, common...)...)
	if res := mustRead(t, c); res.Consume.Records != 3000 || res.EndToEnd.Count != 3000 {
		t.Errorf("consume result: %+v %+v", res.Consume, res.EndToEnd)
	}

	e := filepath.Join(dir, "e2e.json")
	mustRun(t, exitOK, append([]string{"e2e", "--rate", "2000", "--duration", "1s", "--warmup", "200ms",
		"--producers", "2", "--consumers", "2", "--group", "g", "--verify", "--json", e}, common...)...)
	res = mustRead(t, e)
	if !res.Verify.OK() || res.Verify.Acked == 0 || res.EndToEnd.Count == 0 || res.Publish.Count == 0 {
		t.Errorf("e2e result: verify %v publish %+v e2e %+v", res.Verify, res.Publish, res.EndToEnd)
	}
	// 2000/s for 1s after 200ms of warmup: 2400 records scheduled, all
	// acknowledged and consumed. How many fall in the measured window
	// depends on how many were in flight at its edges.
	for name, tp := range map[string]*loadgen.Throughput{"produce": res.Produce, "consume": res.Consume} {
		if total := tp.WarmupRecords + tp.Records + tp.AfterRecords; total != 2400 {
			t.Errorf("%s: %d records in all, want 2400", name, total)
		}
		if tp.Records == 0 || tp.RecordsPerSec <= 0 {
			t.Errorf("%s: nothing measured: %+v", name, tp)
		}
	}
	if res.Produce.Sent != 2000 || res.Publish.Count != 2000 || res.EndToEnd.Count != 2000 {
		t.Errorf("sent %d, latencies of %d and %d records: want the 2000 sent after warmup",
			res.Produce.Sent, res.Publish.Count, res.EndToEnd.Count)
	}

	// Lag over time: every sample has the records not yet consumed and
	// the group's committed lag; both are 0 once the members have left,
	// committing what they read.
	if l := res.Lag; l == nil || l.Records == nil || l.Committed == nil || l.Records.Final != 0 || l.Committed.Final != 0 {
		t.Errorf("lag summary: %+v", l)
	}
	for _, s := range res.Series {
		if s.Lag == nil {
			t.Errorf("sample at %.2fs has no lag", s.At)
		}
	}

	mustRun(t, exitOK, "compare", e, e)
}

// A broker that refuses the consumer group outright (raftline did, before
// it had a coordinator: FindCoordinator answered INVALID_REQUEST) ends the
// run at once with the reason, instead of counting the refusal on every
// poll until the drain timeout and reporting every record lost.
func TestCLI_Fake_GroupRefusedFailsAtOnce(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(int16(kmsg.FindCoordinator), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.FindCoordinatorRequest)
		if r.CoordinatorType != 0 {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.ErrorCode = kerr.InvalidRequest.Code
		for _, key := range r.CoordinatorKeys {
			rc := kmsg.NewFindCoordinatorResponseCoordinator()
			rc.Key, rc.NodeID, rc.ErrorCode = key, -1, kerr.InvalidRequest.Code
			resp.Coordinators = append(resp.Coordinators, rc)
		}
		return resp, nil, true
	})
	brokers := strings.Join(c.ListenAddrs(), ",")
	for _, args := range [][]string{
		{"consume", "--group", "g", "--duration", "1h"},
		{"e2e", "--group", "g", "--rate", "100", "--duration", "1h", "--verify"},
	} {
		code, stdout, stderr := runCLI(t, append(args, "--brokers", brokers, "--topic", "refused", "--quiet")...)
		if code != exitFailed || !strings.Contains(stderr, "cannot join the consumer group") || !strings.Contains(stderr, "INVALID_REQUEST") {
			t.Errorf("loadgen %s: exit %d, want %d naming the refusal\nstdout:\n%s\nstderr:\n%s", args[0], code, exitFailed, stdout, stderr)
		}
	}
}

func TestCLI_Fake_InterruptPrintsResultsSoFar(t *testing.T) {
	brokers := fakeBrokers(t)
	path := filepath.Join(t.TempDir(), "r.json")
	interrupts := make(chan os.Signal, 1)
	time.AfterFunc(700*time.Millisecond, func() { interrupts <- os.Interrupt })

	var stdout, stderr syncBuffer
	code := run([]string{"e2e", "--brokers", brokers, "--rate", "1000", "--duration", "1h", "--verify", "--json", path},
		&stdout, &stderr, interrupts)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitInterrupted, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "interrupted: results so far") || !strings.Contains(stdout.String(), "verify OK") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	res := mustRead(t, path)
	if !res.Interrupted || res.Produce.Records == 0 || !res.Verify.OK() {
		t.Errorf("result: interrupted %v produce %+v verify %v", res.Interrupted, res.Produce, res.Verify)
	}
}

// syncBuffer is a bytes.Buffer that the signal goroutine and the run may
// both write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
