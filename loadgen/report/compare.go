package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/latency"
)

// Thresholds say how much worse a new result may be than its baseline, in
// percent.
type Thresholds struct {
	// ThroughputDrop is the largest allowed fall in records per second.
	ThroughputDrop float64
	// P99Rise is the largest allowed rise in p99 latency, publish or
	// end-to-end.
	P99Rise float64
}

// Gate says which way a metric may not move too far.
type Gate int

// Gates.
const (
	NoGate  Gate = iota // shown, not judged
	MaxDrop             // may fall by at most Limit percent
	MaxRise             // may rise by at most Limit percent
)

// Row is one compared metric.
type Row struct {
	Metric    string
	Base, New float64
	Unit      string
	Gate      Gate
	Limit     float64 // percent
	Failed    bool
}

// Change is the relative change in percent, NaN when the baseline is 0.
func (r Row) Change() float64 {
	if r.Base == 0 {
		return math.NaN()
	}
	return 100 * (r.New - r.Base) / r.Base
}

// Comparison is the difference between a baseline and a new result.
type Comparison struct {
	Rows []Row
	// Failures says why the new result is a regression; empty when it is
	// not.
	Failures []string
	// Notes are differences in how the runs were made, which may explain
	// differences in what they measured.
	Notes []string
}

// OK reports whether no threshold was exceeded.
func (c Comparison) OK() bool { return len(c.Failures) == 0 }

// Compare compares cur against base.
func Compare(base, cur loadgen.Result, th Thresholds) Comparison {
	var c Comparison
	throughput := func(side string, b, n *loadgen.Throughput) {
		switch {
		case b == nil:
			return
		case n == nil:
			c.Failures = append(c.Failures, fmt.Sprintf("the baseline has %s throughput and the new result has none", side))
			return
		}
		c.add(Row{Metric: side + " records/s", Base: b.RecordsPerSec, New: n.RecordsPerSec, Unit: "/s", Gate: MaxDrop, Limit: th.ThroughputDrop})
		c.add(Row{Metric: side + " MiB/s", Base: b.MiBPerSec, New: n.MiBPerSec, Unit: "MiB/s"})
		c.add(Row{Metric: side + " errors", Base: float64(b.ErrorCount()), New: float64(n.ErrorCount())})
	}
	throughput("produce", base.Produce, cur.Produce)
	throughput("consume", base.Consume, cur.Consume)

	lat := func(name string, b, n *latency.Summary) {
		switch {
		case b == nil || b.Count == 0:
			return
		case n == nil || n.Count == 0:
			c.Failures = append(c.Failures, fmt.Sprintf("the baseline has %s latency and the new result has none", name))
			return
		}
		for _, q := range []struct {
			name string
			b, n int64
			gate Gate
		}{
			{"p50", b.P50Micros, n.P50Micros, NoGate},
			{"p90", b.P90Micros, n.P90Micros, NoGate},
			{"p99", b.P99Micros, n.P99Micros, MaxRise},
			{"p99.9", b.P999Micros, n.P999Micros, NoGate},
			{"max", b.MaxMicros, n.MaxMicros, NoGate},
		} {
			c.add(Row{Metric: name + " " + q.name, Base: float64(q.b), New: float64(q.n), Unit: "µs", Gate: q.gate, Limit: th.P99Rise})
		}
	}
	lat("publish", base.Publish, cur.Publish)
	lat("end-to-end", base.EndToEnd, cur.EndToEnd)

	if cur.Verify != nil && !cur.Verify.OK() {
		c.Failures = append(c.Failures, "the new result failed verification: "+cur.Verify.String())
	}
	if cur.Interrupted && !base.Interrupted {
		c.Notes = append(c.Notes, "the new run was interrupted")
	}
	c.Notes = append(c.Notes, differences("config", base.Config, cur.Config)...)
	c.Notes = append(c.Notes, differences("machine", base.Machine, cur.Machine)...)
	return c
}

// add appends r, judged by its gate. A change from a zero baseline has no
// percentage and is not judged.
func (c *Comparison) add(r Row) {
	change := r.Change()
	r.Failed = !math.IsNaN(change) &&
		((r.Gate == MaxDrop && change < -r.Limit) || (r.Gate == MaxRise && change > r.Limit))
	if r.Failed {
		verb := "fell"
		if r.Gate == MaxRise {
			verb = "rose"
		}
		c.Failures = append(c.Failures, fmt.Sprintf("%s %s %.1f%% (%s → %s), more than the %.1f%% allowed",
			r.Metric, verb, math.Abs(change), value(r.Base, r.Unit), value(r.New, r.Unit), r.Limit))
	}
	c.Rows = append(c.Rows, r)
}

// differences lists the top-level JSON fields that differ between a and b.
func differences(what string, a, b any) []string {
	am, bm := fields(a), fields(b)
	var out []string
	for _, k := range slices.Sorted(maps.Keys(am)) {
		if am[k] != bm[k] {
			out = append(out, fmt.Sprintf("%s %s: %s → %s", what, k, am[k], bm[k]))
		}
	}
	return out
}

func fields(v any) map[string]string {
	raw, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func value(v float64, unit string) string {
	switch unit {
	case "µs":
		return Micros(int64(v))
	case "MiB/s":
		return fmt.Sprintf("%.2f %s", v, unit)
	case "":
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f%s", v, unit)
}

// WriteComparison prints c as a table followed by its verdict.
func WriteComparison(w io.Writer, c Comparison) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\tbase\tnew\tchange\t\t")
	for _, r := range c.Rows {
		change := "n/a"
		if ch := r.Change(); !math.IsNaN(ch) {
			change = fmt.Sprintf("%+.1f%%", ch)
		}
		verdict := ""
		if r.Failed {
			verdict = "REGRESSION"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Metric, value(r.Base, r.Unit), value(r.New, r.Unit), change, verdict)
	}
	tw.Flush()
	for _, n := range c.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if c.OK() {
		fmt.Fprintln(w, "\nPASS: no regression beyond the thresholds")
		return
	}
	fmt.Fprintln(w, "\nFAIL:")
	for _, f := range c.Failures {
		fmt.Fprintf(w, "  %s\n", f)
	}
}
