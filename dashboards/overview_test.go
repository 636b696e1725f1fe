package dashboards

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftline/raftline/alerts"
)

// The overview's SLO tiles read sensibly whatever the traffic, evaluated by
// Prometheus' own engine (promtool test rules) over the recording rules of
// alerts/rules.yml: without produce traffic the burn rate is "no traffic"
// (-1) and the whole budget is left, not "no data"; with traffic and no bad
// event (the bad events' counter has no series, so the recorded ratio is
// absent) both are 0 burn and a whole budget; with bad events they are the
// error ratio over the budget and what the ratio leaves of it.
func TestOverviewSLOTilesWithAndWithoutTraffic(t *testing.T) {
	records := map[string]string{}
	w := alerts.BurnWindows[0].Long
	for _, s := range alerts.SLOs() {
		records[snakeRecord(s.Name, "burn")] = burnRateExpr(s, w)
		records[snakeRecord(s.Name, "budget_left")] = budgetLeftExpr(s)
	}
	written := `raftline_produce_partition_requests_total{job="raftline", node_id="1", error_code="NONE"}`
	failed := `raftline_produce_partition_requests_total{job="raftline", node_id="1", error_code="NOT_LEADER_OR_FOLLOWER"}`
	count := `raftline_produce_duration_seconds_count{job="raftline", node_id="1"}`
	fast := fmt.Sprintf(`raftline_produce_duration_seconds_bucket{job="raftline", node_id="1", le="%s"}`, num(alerts.ProduceLatencyThreshold.Seconds()))
	series := func(s ...string) string {
		var b strings.Builder
		for i := 0; i < len(s); i += 2 {
			fmt.Fprintf(&b, "\n  - series: '%s'\n    values: '%s'", s[i], s[i+1])
		}
		return b.String()
	}
	expect := func(availBurn, availLeft, latBurn, latLeft float64) string {
		var b strings.Builder
		for _, c := range []struct {
			name  string
			value float64
		}{
			{snakeRecord("ProduceAvailability", "burn"), availBurn},
			{snakeRecord("ProduceAvailability", "budget_left"), availLeft},
			{snakeRecord("ProduceLatency", "burn"), latBurn},
			{snakeRecord("ProduceLatency", "budget_left"), latLeft},
		} {
			fmt.Fprintf(&b, "\n  - {expr: %s, eval_time: 20m, exp_samples: [{labels: '%s', value: %v}]}", c.name, c.name, c.value)
		}
		return b.String()
	}
	tests := "tests:" +
		// Idle: the written outcome is exported at 0 from start; no
		// produce was ever answered, so the latency histogram is absent.
		"\n- interval: 1m\n  input_series:" + series(written, "0x30") +
		"\n  promql_expr_test:" + expect(noTraffic, 1, noTraffic, 1) +
		// Traffic, every partition written within the threshold.
		"\n- interval: 1m\n  input_series:" + series(written, "0+600x30", count, "0+600x30", fast, "0+600x30") +
		"\n  promql_expr_test:" + expect(0, 1, 0, 1) +
		// A quarter of the partitions fail; half the produces are slow.
		"\n- interval: 1m\n  input_series:" + series(written, "0+48x30", failed, "0+16x30", count, "0+64x30", fast, "0+32x30") +
		"\n  promql_expr_test:" + expect(0.25/0.001, 1-0.25/0.001, 0.5/0.01, 1-0.5/0.01)
	runPromtoolRules(t, records, tests)
}

// The memory tile is each node's share of its limit, and "no limit" (-1),
// not 0 %, for a node without one (raftline_memory_limit_bytes +Inf).
func TestMemoryOfLimitSaysNoLimit(t *testing.T) {
	if p := findPanel(t, UIDOverview, "Memory of limit"); len(exprs(p)) != 1 || exprs(p)[0] != memoryOfLimitExpr {
		t.Fatalf("the Memory of limit panel does not run memoryOfLimitExpr: %q", exprs(p))
	}
	tests := `tests:
- interval: 1m
  input_series:
  - series: 'process_resident_memory_bytes{job="raftline", instance="n1", node_id="1"}'
    values: '1000x5'
  - series: 'raftline_memory_limit_bytes{job="raftline", instance="n1", node_id="1"}'
    values: '4000x5'
  - series: 'process_resident_memory_bytes{job="raftline", instance="n2", node_id="2"}'
    values: '1000x5'
  - series: 'raftline_memory_limit_bytes{job="raftline", instance="n2", node_id="2"}'
    values: 'Inf Inf Inf Inf Inf Inf'
  promql_expr_test:
  - expr: memory_of_limit
    eval_time: 5m
    exp_samples:
    - {labels: 'memory_of_limit{job="raftline", instance="n1", node_id="1"}', value: 0.25}
    - {labels: 'memory_of_limit{job="raftline", instance="n2", node_id="2"}', value: -1}
`
	runPromtoolRules(t, map[string]string{"memory_of_limit": memoryOfLimitExpr}, tests)
}

func snakeRecord(name, what string) string { return "overview_" + strings.ToLower(name) + "_" + what }

// runPromtoolRules records each expression (variables expanded with
// DefaultVars) beside the committed alerts/rules.yml and runs promtool's
// unit tests (a "tests:" document) against them.
func runPromtoolRules(t *testing.T, records map[string]string, tests string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not installed: run scripts/ensure-tools.sh (make test does)")
	}
	committed, err := filepath.Abs(filepath.Join("..", "alerts", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules := "groups:\n- name: overview\n  rules:"
	for name, expr := range records {
		x, err := Expand(expr, DefaultVars())
		if err != nil {
			t.Fatal(err)
		}
		rules += fmt.Sprintf("\n  - record: %s\n    expr: %q", name, x)
	}
	dir := t.TempDir()
	head := fmt.Sprintf("rule_files: [%q, tiles.yml]\nevaluation_interval: 1m\n", committed)
	if err := os.WriteFile(filepath.Join(dir, "tiles.yml"), []byte(rules+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.yml"), []byte(head+tests), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", "test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s\nrules:\n%s\ntests:\n%s", err, out, rules, tests)
	}
}
