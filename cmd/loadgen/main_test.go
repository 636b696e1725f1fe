package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/latency"
)

// runCLI runs loadgen with args and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr, nil)
	return code, stdout.String(), stderr.String()
}

// Every bad command line exits 2 with a message naming what is wrong, and
// never reaches the network (no broker is running for these).
func TestBadFlags_OneClearErrorEach(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"usage:"}},
		{[]string{"bench"}, []string{`unknown command "bench"`}},
		{[]string{"produce", "--size", "10"}, []string{"--size 10: must be at least 27"}},
		{[]string{"produce", "--acks", "2"}, []string{`--acks "2": must be 0, 1 or all`}},
		{[]string{"produce", "--compression", "brotli"}, []string{`--compression "brotli"`}},
		{[]string{"produce", "--rate", "fast"}, []string{`invalid value "fast" for flag -rate`}},
		{[]string{"produce", "--rate", "-1"}, []string{"--rate -1"}},
		{[]string{"produce", "--keys", "0"}, []string{"--keys"}},
		{[]string{"produce", "--linger", "-1s"}, []string{"--linger -1s"}},
		{[]string{"produce", "--replication", "40000"}, []string{"--replication 40000: too large"}},
		{[]string{"produce", "--partitions", "0"}, []string{"--partitions 0"}},
		{[]string{"produce", "--brokers", ""}, []string{"--brokers"}},
		{[]string{"produce", "--verify", "--acks", "0"}, []string{"--verify needs acknowledgements"}},
		{[]string{"produce", "--idempotent", "--acks", "1"}, []string{"--idempotent needs --acks all"}},
		{[]string{"produce", "--group", "g"}, []string{"--group does not apply to produce"}},
		{[]string{"consume", "--verify"}, []string{"--verify needs to know what was acknowledged"}},
		{[]string{"consume", "--from", "middle"}, []string{`--from "middle"`}},
		{[]string{"e2e", "--consumers", "0", "--producers", "0"}, []string{"--consumers 0", "--producers 0"}},
		{[]string{"e2e", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"e2e", "--nope"}, []string{"unknown flag --nope"}},
		{[]string{"e2e", "--json", "/does/not/exist/r.json"}, []string{"--json /does/not/exist/r.json: no such directory"}},
		{[]string{"compare", "a.json"}, []string{"want two result files"}},
		{[]string{"compare", "--p99-rise", "-1", "a", "b"}, []string{"--p99-rise -1"}},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr:\n%s", tc.args, code, exitUsage, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr lacks %q:\n%s", tc.args, w, stderr)
			}
		}
	}
}

// Each problem is reported, each on its own line, not just the first.
func TestBadFlags_AllProblemsReported(t *testing.T) {
	_, _, stderr := runCLI(t, "produce", "--size", "1", "--acks", "x", "--rate", "-3")
	if n := strings.Count(stderr, "loadgen produce: --"); n != 3 {
		t.Fatalf("%d error lines, want 3:\n%s", n, stderr)
	}
}

func TestHelp_ExitsZero(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"produce", "-h"}, {"e2e", "--help"}, {"compare", "-h"}} {
		code, stdout, _ := runCLI(t, args...)
		if code != exitOK || !strings.Contains(stdout, "usage") {
			t.Errorf("%q: exit %d, stdout:\n%s", args, code, stdout)
		}
	}
}

func writeResult(t *testing.T, name string, recordsPerSec float64, p99 int64) string {
	t.Helper()
	res := loadgen.Result{
		Version: loadgen.ResultVersion,
		Config:  loadgen.Config{Command: loadgen.CmdProduce},
		Produce: &loadgen.Throughput{Records: 100, RecordsPerSec: recordsPerSec},
		Publish: &latency.Summary{Count: 100, P50Micros: p99 / 2, P99Micros: p99, MaxMicros: p99},
	}
	path := filepath.Join(t.TempDir(), name)
	if err := writeJSON(path, res); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCompare_ExitStatus(t *testing.T) {
	base := writeResult(t, "base.json", 1000, 2000)
	same := writeResult(t, "same.json", 990, 2100)
	slower := writeResult(t, "slower.json", 800, 2000)
	laggier := writeResult(t, "laggier.json", 1000, 3000)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{base, same}, exitOK, "PASS"},
		{[]string{base, slower}, exitFailed, "produce records/s fell 20.0%"},
		{[]string{base, laggier}, exitFailed, "publish p99 rose 50.0%"},
		// Thresholds can be loosened, with flags before or after the files.
		{[]string{"--throughput-drop", "25", base, slower}, exitOK, "PASS"},
		{[]string{base, laggier, "--p99-rise", "60"}, exitOK, "PASS"},
		{[]string{"--p99-rise", "4", base, same}, exitFailed, "publish p99 rose 5.0%"},
	} {
		code, stdout, stderr := runCLI(t, append([]string{"compare"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stdout, tc.want) {
			t.Errorf("compare %q: exit %d (want %d), output lacks %q:\n%s%s", tc.args, code, tc.code, tc.want, stdout, stderr)
		}
	}
}

func TestCompare_UnreadableResult(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	base := writeResult(t, "base.json", 1000, 2000)
	future := filepath.Join(t.TempDir(), "future.json")
	b, _ := json.Marshal(map[string]any{"version": loadgen.ResultVersion + 1})
	os.WriteFile(future, b, 0o644)

	for _, args := range [][]string{{base, bad}, {base, future}, {base, "/does/not/exist.json"}} {
		code, _, stderr := runCLI(t, append([]string{"compare"}, args...)...)
		if code != exitUsage || stderr == "" {
			t.Errorf("compare %q: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// Ctrl-C while waiting for brokers that never come exits at once.
func TestInterruptWhileWaitingForBrokers(t *testing.T) {
	interrupts := make(chan os.Signal, 1)
	interrupts <- os.Interrupt
	var stdout, stderr syncBuffer
	start := time.Now()
	code := run([]string{"produce", "--brokers", "127.0.0.1:1", "--records", "1"}, &stdout, &stderr, interrupts)
	if code != exitInterrupted || time.Since(start) > 10*time.Second {
		t.Fatalf("exit %d after %v, want %d at once\n%s", code, time.Since(start), exitInterrupted, stderr.String())
	}
}
