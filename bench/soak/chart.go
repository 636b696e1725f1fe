package main

import (
	"fmt"
	"math"
	"os"
	"time"

	"github.com/raftline/raftline/bench/soak/growth"
	"github.com/raftline/raftline/loadgen/report"
)

// seriesOf is node's values of resource i: times and values, NaN while
// the node was down.
func seriesOf(samples []sample, node int32, i int) (x, y []float64) {
	for _, s := range samples {
		if s.Node == node {
			x = append(x, s.At)
			y = append(y, s.Values[i])
		}
	}
	return x, y
}

// judge checks every node's every resource for growth, leaving out each
// node's samples from its own restart until settle after it was ready
// again: a node catching up replays the log and receives what it missed,
// and that peak of memory is recovery, not the steady state a leak would
// rise above. Its peers' samples through its restart are kept, so what a
// restart leaves behind in them is still seen.
func judge(c *cluster, samples []sample, restarts []restart, settle time.Duration) []growth.Verdict {
	var out []growth.Verdict
	for i, r := range resources {
		for _, n := range c.spec.Nodes {
			x, y := seriesOf(samples, n.ID, i)
			for j := range x {
				if recovering(n.ID, x[j], restarts, settle) {
					y[j] = math.NaN()
				}
			}
			out = append(out, growth.Check(fmt.Sprintf("node %d %s", n.ID, r.Column), x, y, tolerances[r.Column]))
		}
	}
	return out
}

// recovering reports whether node was restarting at the time at, or had
// been ready again for less than settle.
func recovering(node int32, at float64, restarts []restart, settle time.Duration) bool {
	for _, r := range restarts {
		if r.Node == node && at >= r.From && at <= r.To+settle.Seconds() {
			return true
		}
	}
	return false
}

// write writes soak.html, the resources over time, and e2e.html, loadgen's
// report of the load.
func (o outcome) write(c *cluster) error {
	page := report.TimeSeriesPage{Title: "raftline soak", Failures: o.failures(), Notes: o.notes()}
	if len(page.Failures) == 0 {
		page.Notes = append([]string{"PASS"}, page.Notes...)
	}
	var bands []report.TimeBand
	for _, r := range o.restarts {
		label := fmt.Sprintf("n%d", r.Node)
		if r.Leader {
			label += " (leader)"
		}
		bands = append(bands, report.TimeBand{From: r.From, To: r.To, Label: label})
	}
	for i, r := range resources {
		tc := report.TimeChart{ID: r.Column, Title: r.Title + " per node", YLabel: r.Unit, Bands: bands}
		for _, n := range c.spec.Nodes {
			x, y := seriesOf(o.samples, n.ID, i)
			scaled := make([]float64, len(y))
			for j, v := range y {
				scaled[j] = v / r.Scale // NaN, a node down, stays NaN
			}
			tc.Series = append(tc.Series, report.TimeSeries{Name: fmt.Sprintf("node %d", n.ID), X: x, Y: scaled})
		}
		page.Charts = append(page.Charts, tc)
	}
	f, err := os.Create(outPath(o.cfg, "soak.html"))
	if err != nil {
		return err
	}
	if err := page.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	e2e, err := os.Create(outPath(o.cfg, "e2e.html"))
	if err != nil {
		return err
	}
	defer e2e.Close()
	return report.WriteHTML(e2e, report.DefaultThresholds, report.Run{Label: "soak load", Result: o.load})
}
