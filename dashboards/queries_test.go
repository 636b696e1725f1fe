package dashboards

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/raftline/raftline/alerts"
	"github.com/raftline/raftline/telemetry/catalog"
)

func TestQueriesListEveryPanel(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != len(registry) {
		t.Fatalf("Queries returned %d dashboards, want %d", len(qs), len(registry))
	}
	for i, d := range qs {
		if d.UID != registry[i].uid || d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("dashboard %d: uid %q title %q with %d panels", i, d.UID, d.Title, len(d.Panels))
		}
		for _, p := range d.Panels {
			if p.Title == "" || p.Type == "" || p.Type == "row" || len(p.Exprs) == 0 {
				t.Errorf("%s: panel %+v", d.UID, p)
			}
		}
	}
}

func TestExpand(t *testing.T) {
	v := DefaultVars()
	tests := []struct{ in, want string }{
		{`rate(x{job="$job", node_id=~"$node"}[$__rate_interval])`, `rate(x{job="raftline", node_id=~".*"}[1m])`},
		{`x{job="${job}", node_id=~"${node:regex}"}[$__interval]`, `x{job="raftline", node_id=~".*"}[15s]`},
		{`loadgen_records_sent_total{job="$loadgen_job"}`, `loadgen_records_sent_total{job="loadgen"}`},
		{`x{job="[[job]]"}`, `x{job="raftline"}`},
		{`label_replace(x, "a", "$1", "b", "(.*)")`, `label_replace(x, "a", "$1", "b", "(.*)")`},
	}
	for _, tt := range tests {
		got, err := Expand(tt.in, v)
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}

	v.Node = "node-2"
	if got, _ := Expand(`x{node_id=~"$node"}`, v); got != `x{node_id=~"node-2"}` {
		t.Errorf("Expand with one node = %q", got)
	}
	for _, in := range []string{`x[$__range]`, `x{a="$datasource"}`, `x{a="$nodes"}`} {
		if _, err := Expand(in, DefaultVars()); err == nil {
			t.Errorf("Expand(%q) succeeded; want an error for the unknown variable", in)
		}
	}
}

func TestEveryQueryExpands(t *testing.T) {
	forEachExpr(t, func(where, e string) {
		got, err := Expand(e, DefaultVars())
		if err != nil {
			t.Errorf("%s: %v", where, err)
		} else if strings.ContainsAny(got, "$") {
			t.Errorf("%s: %q still has a $", where, got)
		}
	})
}

func TestMetricNames(t *testing.T) {
	names, err := MetricNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"raft_commit_duration_seconds_bucket", // kept literally for comparison with /metrics
		"raftline_produced_records_total",
		"raft_current_term",
		"go_gc_duration_seconds_sum",
		"loadgen_publish_latency_seconds_bucket",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("MetricNames lacks %q", want)
		}
	}
	if slices.Contains(names, "up") {
		t.Error("MetricNames includes up, which no exporter serves")
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Error("MetricNames is not sorted and unique")
	}

	byJob, err := MetricNamesByJob()
	if err != nil {
		t.Fatal(err)
	}
	if len(byJob) != 3 {
		t.Errorf("MetricNamesByJob has jobs %v, want raftline, loadgen and canary", keys(byJob))
	}
	for _, n := range byJob["raftline"] {
		if strings.HasPrefix(n, "loadgen_") {
			t.Errorf("%s listed under job raftline", n)
		}
	}
	for _, n := range byJob["canary"] {
		if !strings.HasPrefix(n, "loadgen_canary_") {
			t.Errorf("%s listed under job canary", n)
		}
	}
	for _, n := range byJob["loadgen"] {
		if !strings.HasPrefix(n, "loadgen_") || strings.HasPrefix(n, "loadgen_canary_") {
			t.Errorf("%s listed under job loadgen", n)
		}
	}
}

func keys(m map[string][]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// The metric catalogue (telemetry/catalog, rendered as docs/METRICS.md) is
// the contract between the exporters and the dashboards: every name a panel
// reads from a job must be one the catalogue lists for that job's exporter,
// or come from the Go runtime and process collectors.
func TestMetricNamesAreInTheCatalogue(t *testing.T) {
	byJob, err := MetricNamesByJob()
	if err != nil {
		t.Fatal(err)
	}
	// Series the alert rules record (alerts/rules.yml) carry the job of
	// the metrics they are computed from.
	recorded := map[string]bool{}
	for _, g := range alerts.Groups(alerts.DefaultConfig()) {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	for job, names := range byJob {
		exported := map[string]bool{}
		for _, m := range catalog.ByJob(job) {
			for _, s := range m.Series() {
				exported[s] = true
			}
		}
		if job == catalog.Job {
			for r := range recorded {
				exported[r] = true
			}
		}
		if len(exported) == 0 {
			t.Errorf("panels read job %q, which the metric catalogue has no exporter for: %v", job, names)
			continue
		}
		for _, n := range names {
			if !exported[n] && !catalog.IsRuntime(n) {
				t.Errorf("%s (job %s) is not in the metric catalogue", n, job)
			}
		}
	}
	if v := DefaultVars(); v.Job != catalog.Job || v.LoadgenJob != catalog.LoadgenJob {
		t.Errorf("dashboards default to jobs %q and %q, the catalogue's exporters are scraped as %q and %q",
			v.Job, v.LoadgenJob, catalog.Job, catalog.LoadgenJob)
	}
}

// Every query, with variables expanded, is valid PromQL. The check uses
// promtool's rule parser when promtool is installed.
func TestEveryQueryParses(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not installed: run scripts/ensure-tools.sh (make test does)")
	}
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboards\n  rules:\n")
	var panels []string // record qN is the query of panels[N]
	forEachExpr(t, func(where, e string) {
		expanded, err := Expand(e, DefaultVars())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&rules, "  - record: q%d\n    expr: %q\n", len(panels), expanded)
		panels = append(panels, where+": "+expanded)
	})
	path := filepath.Join(t.TempDir(), "queries.rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
		for _, m := range regexp.MustCompile(`"q(\d+)"`).FindAllStringSubmatch(string(out), -1) {
			if i, _ := strconv.Atoi(m[1]); i < len(panels) {
				t.Errorf("q%d is %s", i, panels[i])
			}
		}
	}
}
