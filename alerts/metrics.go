package alerts

import (
	"slices"

	"github.com/raftline/raftline/internal/promql"
)

// promSynthetic are series Prometheus creates itself for every target; no
// node exports them, so MetricNames leaves them out.
var promSynthetic = map[string]bool{"up": true}

// MetricNames returns, sorted and without duplicates, every metric name the
// rules read from raftline's own /metrics: names used by recorded series are
// followed back to the metrics they are computed from, and series Prometheus
// synthesises (up) are left out. Histogram series appear as exposed
// (raft_commit_duration_seconds_bucket), so each name can be looked up
// directly in a node's exposition.
func MetricNames() []string {
	groups := Groups(DefaultConfig())
	recorded := map[string]bool{}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	var names []string
	for _, g := range groups {
		for _, r := range g.Rules {
			for _, n := range promql.MetricNames(r.Expr) {
				if !recorded[n] && !promSynthetic[n] {
					names = append(names, n)
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
