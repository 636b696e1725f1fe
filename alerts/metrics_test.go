package alerts

import (
	"slices"
	"strings"
	"testing"

	"github.com/raftline/raftline/telemetry/catalog"
)

// MetricNames must be exactly the raw metrics the rules read: recorded
// series resolved away, up left out.
func TestMetricNames(t *testing.T) {
	want := []string{
		"process_max_fds",
		"process_open_fds",
		"process_resident_memory_bytes",
		"process_start_time_seconds",
		"raft_commit_duration_seconds_bucket",
		"raft_current_term",
		"raft_follower_lag_entries",
		"raft_has_leader",
		"raft_last_contact_seconds",
		"raft_log_store_append_duration_seconds_bucket",
		"raft_log_store_append_oldest_inflight_seconds",
		"raft_snapshots_total",
		"raft_state",
		"raft_voters",
		"raftline_consumer_group_lag",
		"raftline_consumer_group_lag_seconds",
		"raftline_consumer_group_members",
		"raftline_consumer_group_rebalances_total",
		"raftline_kafka_budget_waits_total",
		"raftline_kafka_request_errors_total",
		"raftline_kafka_requests_total",
		"raftline_memory_limit_bytes",
		"raftline_node_time_seconds",
		"raftline_produce_duration_seconds_bucket",
		"raftline_produce_duration_seconds_count",
		"raftline_produce_partition_requests_total",
		"raftline_storage_capacity_bytes",
		"raftline_storage_errors_total",
		"raftline_storage_free_bytes",
		"raftline_storage_min_free_bytes",
		"raftline_trace_spans_dropped_total",
	}
	if got := MetricNames(); !slices.Equal(got, want) {
		t.Errorf("MetricNames() =\n%q\nwant\n%q", got, want)
	}
}

// exportedSeries returns the series names the metric catalogue says every
// raftline node exports: each metric's name, and the _bucket, _sum and
// _count series of each histogram.
func exportedSeries() map[string]bool {
	series := map[string]bool{}
	for _, m := range catalog.ByJob(Job) {
		for _, s := range m.Series() {
			series[s] = true
		}
	}
	return series
}

// The rules read job="raftline", whose metrics are in the catalogue
// (telemetry/catalog, docs/METRICS.md) or come from the Go runtime and
// process collectors every node registers (process_open_fds); a rule that
// reads anything else would never fire. The collectors' names are held to
// a live node by telemetry's contract test and the end-to-end test.
func TestMetricNames_InTheCatalogue(t *testing.T) {
	if Job != catalog.Job {
		t.Errorf("the rules select job %q, the catalogue's nodes are scraped as %q", Job, catalog.Job)
	}
	exported := exportedSeries()
	for _, n := range MetricNames() {
		if !exported[n] && !catalog.IsRuntime(n) {
			t.Errorf("rules read %s, which the metric catalogue does not list for job %s", n, catalog.Job)
		}
	}
	for _, r := range alertRules(t) {
		if strings.Contains(r.Expr, `job="`) && !strings.Contains(r.Expr, `job="`+Job+`"`) {
			t.Errorf("%s: selects a job other than %q", r.Alert, Job)
		}
	}
}
