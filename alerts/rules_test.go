package alerts

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func alertRules(t *testing.T) []Rule {
	t.Helper()
	var alerts []Rule
	for _, g := range Groups(DefaultConfig()) {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r)
			}
		}
	}
	if len(alerts) == 0 {
		t.Fatal("no alerting rules")
	}
	return alerts
}

func TestRulesFile_MatchesGenerator(t *testing.T) {
	want, err := Render(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("alerts/rules.yml is out of date with the rules in Go: run go generate ./alerts/...")
	}
}

func TestRender_RejectsBadRules(t *testing.T) {
	for name, r := range map[string]Rule{
		"both alert and record": {Alert: "A", Record: "a:b:c", Expr: "x"},
		"bad record name":       {Record: "raft_elections_5m", Expr: "x"},
		"unknown severity":      alert("A", "page", 0, "x", "s", "d"),
		"missing description":   alert("A", SeverityWarning, 0, "x", "s", ""),
		"wrong runbook":         {Alert: "A", Expr: "x", Labels: map[string]string{"severity": "info"}, Annotations: &Annotations{Summary: "s", Description: "d", RunbookURL: RunbookURL("B")}},
	} {
		if err := validate([]Group{{Name: "g", Rules: []Rule{r}}}); err == nil {
			t.Errorf("%s: validate accepted %+v", name, r)
		}
	}
}

func TestDuration_PrometheusSpelling(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{30 * time.Second, "30s"},
		{5 * time.Minute, "5m"},
		{90 * time.Minute, "1h30m"},
		{2*time.Hour + 30*time.Second, "2h30s"},
		{48*time.Hour + time.Minute + time.Second, "48h1m1s"},
	} {
		if got := Duration(tc.d).String(); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if _, err := Duration(1500 * time.Millisecond).MarshalYAML(); err == nil {
		t.Error("a sub-second duration marshalled; Prometheus rules never need one")
	}
}

func TestPromtool_CheckRules(t *testing.T) {
	promtool := mustTool(t, "promtool", "prometheus")
	out := run(t, promtool, "check", "rules", "rules.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules:\n%s", out)
	}
}

func TestPromtool_TestRules(t *testing.T) {
	promtool := mustTool(t, "promtool", "prometheus")
	files, err := filepath.Glob("testdata/*.test.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool test files in testdata: %v", err)
	}
	run(t, promtool, append([]string{"test", "rules"}, files...)...)
}

// promtoolTests is the part of a promtool unit test file this package
// checks for coverage.
type promtoolTests struct {
	RuleFiles      []string `yaml:"rule_files"`
	GroupEvalOrder []string `yaml:"group_eval_order"`
	Tests          []struct {
		Name       string `yaml:"name"`
		AlertTests []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// Every alert needs a case where it fires, with its annotations spelled out
// (promtool compares them exactly), and a case where it stays quiet.
func TestPromtool_EveryAlertHasFiringAndQuietCases(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.test.yml")
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var pt promtoolTests
		if err := yaml.Unmarshal(b, &pt); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// Without an order promtool evaluates the groups in map order, and an
		// alert reading a series recorded at the same instant sees it one
		// evaluation late at random.
		var order []string
		for _, g := range Groups(DefaultConfig()) {
			order = append(order, g.Name)
		}
		if !slices.Equal(pt.GroupEvalOrder, order) {
			t.Errorf("%s: group_eval_order = %v, want %v", f, pt.GroupEvalOrder, order)
		}
		if !slices.Equal(pt.RuleFiles, []string{"../rules.yml"}) {
			t.Errorf("%s: rule_files = %v, want [../rules.yml] so the committed file is what is tested", f, pt.RuleFiles)
		}
		for _, tc := range pt.Tests {
			for _, at := range tc.AlertTests {
				if len(at.ExpAlerts) == 0 {
					quiet[at.Alertname] = true
					continue
				}
				annotated := true
				for _, ea := range at.ExpAlerts {
					for _, k := range []string{"summary", "description", "runbook_url"} {
						if ea.ExpAnnotations[k] == "" {
							annotated = false
							t.Errorf("%s: %q: expected %s alert lacks exp_annotations.%s", f, tc.Name, at.Alertname, k)
						}
					}
				}
				if annotated {
					firing[at.Alertname] = true
				}
			}
		}
	}
	for _, r := range alertRules(t) {
		if !firing[r.Alert] {
			t.Errorf("%s: no promtool case where it fires with annotations checked", r.Alert)
		}
		if !quiet[r.Alert] && r.Alert != "Watchdog" { // always fires, by design
			t.Errorf("%s: no promtool case where it stays quiet", r.Alert)
		}
	}
}

func TestRunbooks_OnePerAlert(t *testing.T) {
	dir := filepath.Join("..", "docs", "runbooks")
	want := map[string]bool{"README.md": true}
	for _, r := range alertRules(t) {
		name := r.Alert + ".md"
		want[name] = true
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: runbook_url points at docs/runbooks/%s: %v", r.Alert, name, err)
			continue
		}
		for _, section := range []string{"## Impact", "## Diagnosis", "## Mitigation"} {
			if !bytes.Contains(b, []byte("\n"+section+"\n")) {
				t.Errorf("docs/runbooks/%s: missing section %q", name, section)
			}
		}
		if !bytes.Contains(b, []byte("raftline / ")) {
			t.Errorf("docs/runbooks/%s: names no dashboard", name)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("docs/runbooks/%s has no alert", e.Name())
		}
	}
}

// Every paging alert is held quiet through the operations that must not
// page (a rolling restart, a single failover, a deploy) and the election
// storm pages, in testdata/PagingScenarios.test.yml, where each node's
// series are what a real restart leaves: counters from 0, a new start
// time, the persisted term. The SLO burn-rate alerts read the produce SLI,
// whose bursts of errors during those operations are what must stay under
// their burn rates: their cases are in their own testdata/slo_<alert>.test.yml,
// one per operation, named after it.
func TestPromtool_PagingAlertsThroughOperations(t *testing.T) {
	files, err := filepath.Glob("testdata/slo_*.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"testdata/PagingScenarios.test.yml"}, files...)
	operations := []string{"rolling restart", "single failover", "deploy"}
	quietIn := map[string]map[string]bool{}  // operation -> alerts checked quiet
	firingIn := map[string]map[string]bool{} // operation or scenario -> alerts expected firing
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var pt promtoolTests
		if err := yaml.Unmarshal(b, &pt); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range pt.Tests {
			keys := []string{tc.Name}
			for _, op := range operations {
				if strings.Contains(tc.Name, op) {
					keys = append(keys, op)
				}
			}
			for _, k := range keys {
				if quietIn[k] == nil {
					quietIn[k], firingIn[k] = map[string]bool{}, map[string]bool{}
				}
				for _, at := range tc.AlertTests {
					if len(at.ExpAlerts) == 0 {
						quietIn[k][at.Alertname] = true
					} else {
						firingIn[k][at.Alertname] = true
					}
				}
			}
		}
	}
	for _, op := range operations {
		if quietIn[op] == nil {
			t.Fatalf("no promtool case of a %s", op)
		}
		for _, r := range alertRules(t) {
			if r.Labels["severity"] != SeverityCritical {
				continue
			}
			if !quietIn[op][r.Alert] || firingIn[op][r.Alert] {
				t.Errorf("%s: paging alert %s is not checked quiet throughout", op, r.Alert)
			}
		}
	}
	var storm bool
	for name := range firingIn {
		storm = storm || (strings.Contains(name, "storm") && firingIn[name]["RaftElectionStorm"])
	}
	if !storm {
		t.Error("no storm case expects RaftElectionStorm to page")
	}
}
