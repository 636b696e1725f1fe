package alerts

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// MetricNames must be exactly the raw metrics the rules read: recorded
// series resolved away, up left out.
func TestMetricNames(t *testing.T) {
	want := []string{
		"raft_commit_duration_seconds_bucket",
		"raft_follower_lag_entries",
		"raft_has_leader",
		"raft_last_contact_seconds",
		"raft_leader_elections_total",
		"raft_log_size_bytes",
		"raft_log_store_append_duration_seconds_bucket",
		"raft_snapshots_total",
		"raftline_kafka_request_errors_total",
		"raftline_kafka_requests_total",
	}
	if got := MetricNames(); !slices.Equal(got, want) {
		t.Errorf("MetricNames() =\n%q\nwant\n%q", got, want)
	}
}

// documentedMetrics returns the metric names docs/METRICS.md specifies, with
// the _bucket, _sum and _count series of each histogram.
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "METRICS.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\|\\s*`([a-z_:][a-z0-9_:]*)`\\s*\\|\\s*([a-z]+)\\s*\\|")
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		name, typ := m[1], m[2]
		documented[name] = true
		if typ == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				documented[name+s] = true
			}
		}
	}
	if len(documented) == 0 {
		t.Fatal("no metric table rows found in docs/METRICS.md")
	}
	return documented
}

// The broker's exported names are specified in docs/METRICS.md; a rule that
// reads anything else would never fire.
func TestMetricNames_DocumentedInMetricsMD(t *testing.T) {
	documented := documentedMetrics(t)
	for _, n := range MetricNames() {
		if !documented[n] {
			t.Errorf("rules read %s, which docs/METRICS.md does not list", n)
		}
	}
	for _, r := range alertRules(t) {
		if strings.Contains(r.Expr, `job="`) && !strings.Contains(r.Expr, `job="`+Job+`"`) {
			t.Errorf("%s: selects a job other than %q", r.Alert, Job)
		}
	}
}
