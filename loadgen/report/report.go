// Package report presents load test results: the progress line, the final
// table, and the comparison of two results.
package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/latency"
)

const mib = 1 << 20

// Micros formats a latency in microseconds with a unit that keeps it short.
func Micros(us int64) string {
	d := time.Duration(us) * time.Microsecond
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", us)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(us)/1e3)
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

// Progress formats one sample as the line printed every second. The parts
// shown depend on the command: a produce run has no consumer columns.
func Progress(cmd string, s loadgen.Sample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%7.2fs", s.At)
	if s.Warmup {
		b.WriteString(" warmup")
	}
	per := func(n int64) float64 {
		if s.Seconds <= 0 {
			return 0
		}
		return float64(n) / s.Seconds
	}
	if cmd != loadgen.CmdConsume {
		fmt.Fprintf(&b, "  sent %8.0f/s  acked %8.0f/s %7.2f MiB/s  publish p50 %s p99 %s",
			per(s.Sent), per(s.Acked), per(s.AckedBytes)/mib, Micros(s.Publish.P50Micros), Micros(s.Publish.P99Micros))
	}
	if cmd != loadgen.CmdProduce || s.Consumed > 0 {
		fmt.Fprintf(&b, "  consumed %8.0f/s %7.2f MiB/s", per(s.Consumed), per(s.ConsumedBytes)/mib)
		if cmd != loadgen.CmdProduce {
			fmt.Fprintf(&b, "  e2e p50 %s p99 %s", Micros(s.EndToEnd.P50Micros), Micros(s.EndToEnd.P99Micros))
		}
	}
	if s.Lag != nil {
		fmt.Fprintf(&b, "  lag %d", *s.Lag)
	}
	if s.CommittedLag != nil {
		fmt.Fprintf(&b, "  committed lag %d", *s.CommittedLag)
	}
	fmt.Fprintf(&b, "  errors %d", s.ErrorCount())
	return b.String()
}

// Write prints the final result table.
func Write(w io.Writer, r loadgen.Result) {
	c := r.Config
	fmt.Fprintf(w, "\nloadgen %s: topic %s, %s", c.Command, c.Topic, describe(c))
	if r.Interrupted {
		fmt.Fprint(w, " (interrupted: results so far)")
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\trecords\tbytes\tseconds\trecords/s\tMiB/s\terrors\t")
	row := func(name string, t *loadgen.Throughput) {
		if t != nil {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.1f\t%.2f\t%d\t\n",
				name, t.Records, t.Bytes, t.Seconds, t.RecordsPerSec, t.MiBPerSec, t.ErrorCount())
		}
	}
	row("produce", r.Produce)
	if c.Command == loadgen.CmdProduce {
		row("read back", r.Consume) // by --verify, after producing
	} else {
		row("consume", r.Consume)
	}
	tw.Flush()

	for _, side := range []struct {
		name string
		t    *loadgen.Throughput
	}{{"acknowledged", r.Produce}, {"consumed", r.Consume}} {
		if side.t != nil && side.t.WarmupRecords+side.t.AfterRecords > 0 {
			fmt.Fprintf(w, "(records %s but not counted above: %d during warmup, %d after the measured window)\n",
				side.name, side.t.WarmupRecords, side.t.AfterRecords)
		}
	}
	if r.Consume != nil && r.Consume.Foreign > 0 {
		fmt.Fprintf(w, "(%d records in the topic from other writers were read and ignored)\n", r.Consume.Foreign)
	}
	writeErrors(w, r)

	if r.Publish != nil || r.EndToEnd != nil {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "latency\tcount\tmin\tp50\tp90\tp99\tp99.9\tmax\t")
		lat := func(name string, s *latency.Summary) {
			if s != nil {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, s.Count, Micros(s.MinMicros), Micros(s.P50Micros),
					Micros(s.P90Micros), Micros(s.P99Micros), Micros(s.P999Micros), Micros(s.MaxMicros))
			}
		}
		lat("publish", r.Publish)
		lat("end-to-end", r.EndToEnd)
		tw.Flush()
		if c.FixedRate() && r.Publish != nil {
			fmt.Fprintln(w, "(fixed rate: latency is measured from each record's intended send time)")
		}
	}

	writeLag(w, r)

	if r.Verify != nil {
		fmt.Fprintf(w, "\n%v\n", *r.Verify)
		if r.Interrupted && r.Verify.Lost > 0 {
			fmt.Fprintln(w, "  (the run was interrupted: records not consumed before the stop count as lost)")
		}
		for _, e := range r.Verify.Examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// writeLag prints the consumer lag the series saw; the per-interval values
// are in the progress lines and the JSON series.
func writeLag(w io.Writer, r loadgen.Result) {
	if r.Lag == nil {
		return
	}
	fmt.Fprintln(w)
	if l := r.Lag.Records; l != nil {
		fmt.Fprintf(w, "consumer lag (acknowledged, not yet consumed): max %d records at %.1fs, %d at the end\n", l.Max, l.MaxAt, l.Final)
	}
	if l := r.Lag.Committed; l != nil {
		fmt.Fprintf(w, "committed lag of group %s (the broker's, by committed offsets): max %d records at %.1fs, %d at the end\n",
			r.Config.Group, l.Max, l.MaxAt, l.Final)
	}
}

func describe(c loadgen.Config) string {
	var parts []string
	if c.Command != loadgen.CmdConsume {
		rate := "max rate"
		if c.FixedRate() {
			rate = fmt.Sprintf("rate %g/s", c.Rate)
		}
		parts = append(parts, fmt.Sprintf("%d producer(s), %s, %d-byte records, acks %s, compression %s, keys %v",
			c.Producers, rate, c.Size, c.Acks, c.Compression, c.Keys))
	}
	if c.Command != loadgen.CmdProduce {
		group := "no group"
		if c.Group != "" {
			group = "group " + c.Group
		}
		parts = append(parts, fmt.Sprintf("%d consumer(s), %s", c.Consumers, group))
	}
	return strings.Join(parts, "; ")
}

func writeErrors(w io.Writer, r loadgen.Result) {
	type entry struct {
		side, kind string
		n          int64
	}
	var all []entry
	for _, side := range []struct {
		name string
		t    *loadgen.Throughput
	}{{"produce", r.Produce}, {"consume", r.Consume}} {
		if side.t == nil {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(side.t.Errors)) {
			all = append(all, entry{side.name, k, side.t.Errors[k]})
		}
	}
	if len(all) == 0 {
		return
	}
	fmt.Fprintln(w, "\nerrors by kind:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range all {
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", e.side, e.kind, e.n)
	}
	tw.Flush()
}
