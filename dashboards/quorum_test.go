package dashboards

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The overview's quorum tile says LOST (0), not "no data", when every node
// is down: Prometheus then has only up=0 for the targets and no raft
// series at all. Evaluated by Prometheus' own engine (promtool test rules)
// over a cluster that is healthy, loses two of three nodes' leader, then
// loses every node, then is not scraped at all.
func TestQuorumTileSaysLostWhenEveryNodeIsDown(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not installed: run scripts/ensure-tools.sh (make test does)")
	}
	expr, err := Expand(quorumExpr, DefaultVars())
	if err != nil {
		t.Fatal(err)
	}
	if p := findPanel(t, UIDOverview, "Quorum"); len(exprs(p)) != 1 || exprs(p)[0] != quorumExpr {
		t.Fatalf("the Quorum panel does not run quorumExpr: %q", exprs(p))
	}
	dir := t.TempDir()
	rules := fmt.Sprintf("groups:\n- name: overview\n  rules:\n  - record: quorum\n    expr: %q\n", expr)
	// Minutes: 0-1 healthy; 2 nodes 2 and 3 lost the leader; 3-4 every
	// node down (up=0, raft series gone); 5 not scraped at all.
	var series string
	for _, n := range []string{"1", "2", "3"} {
		leader := "1 1 1 stale stale stale"
		if n != "1" {
			leader = "1 1 0 stale stale stale"
		}
		series += fmt.Sprintf(`
  - series: 'up{job="raftline", instance="n%[1]s"}'
    values: '1 1 1 0 0 stale'
  - series: 'raft_has_leader{job="raftline", instance="n%[1]s", node_id="%[1]s"}'
    values: '%[2]s'
  - series: 'raft_voters{job="raftline", instance="n%[1]s", node_id="%[1]s"}'
    values: '3 3 3 stale stale stale'`, n, leader)
	}
	tests := `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
- interval: 1m
  input_series:` + series + `
  promql_expr_test:
  - {expr: quorum, eval_time: 1m, exp_samples: [{labels: 'quorum', value: 1}]}
  - {expr: quorum, eval_time: 2m, exp_samples: [{labels: 'quorum', value: 0}]}
  - {expr: quorum, eval_time: 3m, exp_samples: [{labels: 'quorum', value: 0}]}
  - {expr: quorum, eval_time: 4m, exp_samples: [{labels: 'quorum', value: 0}]}
  - {expr: quorum, eval_time: 5m, exp_samples: [{labels: 'quorum', value: 0}]}
`
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.yml"), []byte(tests), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", "test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s\nrules:\n%s", err, out, rules)
	}
}
