package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/latency"
	"github.com/raftline/raftline/loadgen/ledger"
)

func result(recordsPerSec float64, p99 int64) loadgen.Result {
	return loadgen.Result{
		Version:  loadgen.ResultVersion,
		Config:   loadgen.Config{Command: loadgen.CmdE2E, Topic: "t", Rate: 1000},
		Produce:  &loadgen.Throughput{Records: 1000, RecordsPerSec: recordsPerSec, MiBPerSec: recordsPerSec / 1024},
		Consume:  &loadgen.Throughput{Records: 1000, RecordsPerSec: recordsPerSec},
		Publish:  &latency.Summary{Count: 1000, P50Micros: 500, P99Micros: p99, MaxMicros: 2 * p99},
		EndToEnd: &latency.Summary{Count: 1000, P50Micros: 700, P99Micros: p99, MaxMicros: 2 * p99},
	}
}

var th = Thresholds{ThroughputDrop: 5, P99Rise: 10}

func TestCompare_WithinThresholds_Passes(t *testing.T) {
	// 4% slower, p99 9% higher: inside 5% and 10%.
	c := Compare(result(1000, 1000), result(960, 1090), th)
	if !c.OK() {
		t.Fatalf("failures: %v", c.Failures)
	}
	var out bytes.Buffer
	WriteComparison(&out, c)
	if !strings.Contains(out.String(), "PASS") || !strings.Contains(out.String(), "-4.0%") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestCompare_ThroughputDrop_Fails(t *testing.T) {
	c := Compare(result(1000, 1000), result(940, 1000), th)
	if c.OK() || len(c.Failures) != 2 { // produce and consume records/s
		t.Fatalf("failures: %v", c.Failures)
	}
	if !strings.Contains(c.Failures[0], "produce records/s fell 6.0%") {
		t.Errorf("failure reads %q", c.Failures[0])
	}
}

func TestCompare_P99Rise_Fails(t *testing.T) {
	c := Compare(result(1000, 1000), result(1000, 1200), th)
	if c.OK() || len(c.Failures) != 2 { // publish and end-to-end p99
		t.Fatalf("failures: %v", c.Failures)
	}
	var out bytes.Buffer
	WriteComparison(&out, c)
	if !strings.Contains(out.String(), "REGRESSION") || !strings.Contains(out.String(), "FAIL") {
		t.Errorf("output:\n%s", out.String())
	}
}

// Getting faster, or p50 and max moving, is not a regression.
func TestCompare_ImprovementAndUngatedChanges_Pass(t *testing.T) {
	cur := result(2000, 500)
	cur.Publish.MaxMicros, cur.Publish.P50Micros = 1e6, 5000
	if c := Compare(result(1000, 1000), cur, th); !c.OK() {
		t.Fatalf("failures: %v", c.Failures)
	}
}

func TestCompare_MissingSectionAndFailedVerify_Fail(t *testing.T) {
	cur := result(1000, 1000)
	cur.Consume, cur.EndToEnd = nil, nil
	cur.Verify = &ledger.Report{Acked: 10, Consumed: 9, Lost: 1}
	c := Compare(result(1000, 1000), cur, th)
	if c.OK() || len(c.Failures) != 3 {
		t.Fatalf("failures: %v", c.Failures)
	}
}

func TestCompare_NotesConfigDifferences(t *testing.T) {
	cur := result(1000, 1000)
	cur.Config.Rate = 2000
	c := Compare(result(1000, 1000), cur, th)
	if !c.OK() || len(c.Notes) != 1 || c.Notes[0] != "config rate: 1000 → 2000" {
		t.Fatalf("notes %q", c.Notes)
	}
}

func TestWriteAndProgress_ShowEveryMeasurement(t *testing.T) {
	r := result(1000, 1500)
	r.Produce.Errors = map[string]int64{"NOT_LEADER_FOR_PARTITION": 3}
	r.Verify = &ledger.Report{Acked: 1000, Consumed: 1000}
	var out bytes.Buffer
	Write(&out, r)
	for _, want := range []string{"produce", "consume", "records/s", "MiB/s", "NOT_LEADER_FOR_PARTITION", "3",
		"p99.9", "publish", "end-to-end", "1.50ms", "verify OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}

	line := Progress(loadgen.CmdE2E, loadgen.Sample{At: 3, Seconds: 1, Sent: 1000, Acked: 990, AckedBytes: 1 << 20,
		Consumed: 980, Publish: latency.Summary{P50Micros: 800, P99Micros: 2500}, Errors: map[string]int64{"x": 2}})
	for _, want := range []string{"1000/s", "990/s", "1.00 MiB/s", "p50 800µs", "p99 2.50ms", "980/s", "errors 2"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line lacks %q: %s", want, line)
		}
	}

	lag, committed := int64(120), int64(900)
	line = Progress(loadgen.CmdE2E, loadgen.Sample{At: 4, Seconds: 1, Lag: &lag, CommittedLag: &committed})
	if !strings.Contains(line, "lag 120") || !strings.Contains(line, "committed lag 900") {
		t.Errorf("progress line lacks the lags: %s", line)
	}
	out.Reset()
	Write(&out, loadgen.Result{Config: loadgen.Config{Command: loadgen.CmdE2E, Group: "g"},
		Lag: &loadgen.Lag{Records: &loadgen.LagStat{Max: 120, MaxAt: 4, Final: 0}, Committed: &loadgen.LagStat{Max: 900, MaxAt: 5, Final: 0}}})
	for _, want := range []string{"consumer lag (acknowledged, not yet consumed): max 120 records at 4.0s, 0 at the end",
		"committed lag of group g", "max 900 records at 5.0s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
