package observability

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/raftline/raftline/alerts/stackconfig"
)

// stormTiming is what the shipped files say about paging for an election
// storm. The end-to-end test reads it from alerts/rules.yml and
// compose/alertmanager.yml, the files Prometheus and Alertmanager load, so
// that it waits as long as the shipped configuration needs and never tests
// a threshold of its own.
type stormTiming struct {
	Alert     string
	Expr      string  // the rule's expression left of the comparison
	Threshold float64 // the value at which it pages
	For       time.Duration
	// Changes is the leader-change count in the rule (changes() of the
	// cluster's term over Window), without the rule's other conditions:
	// what a single failover raises to 1.
	Changes string
	// Window is the range of the changes() the rule reads: how long an
	// election keeps counting.
	Window time.Duration
	// Receiver, GroupWait and GroupInterval belong to the Alertmanager
	// route the storm alert takes.
	Receiver      string
	GroupWait     time.Duration
	GroupInterval time.Duration
	Severity      string
}

// stormRuleExpr splits "EXPR >= N".
var stormRuleExpr = regexp.MustCompile(`^(?s)(.*\S)\s*>=\s*([0-9.]+)\s*$`)

// stormChanges finds "changes(SERIES[W])" in the storm rule.
var stormChanges = regexp.MustCompile(`changes\([a-z_:]+\[([0-9]+[smhd])\]\)`)

func loadStormTiming(t testing.TB) stormTiming {
	t.Helper()
	const alert = "RaftElectionStorm"
	st := stormTiming{Alert: alert}

	var rules struct {
		Groups []struct {
			Rules []struct {
				Record string            `yaml:"record"`
				Alert  string            `yaml:"alert"`
				Expr   string            `yaml:"expr"`
				For    string            `yaml:"for"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, filepath.Join(repoRoot, "alerts", "rules.yml"), &rules)
	found := false
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != alert {
				continue
			}
			found = true
			m := stormRuleExpr.FindStringSubmatch(r.Expr)
			if m == nil {
				t.Fatalf("rules.yml: %s expr %q is not `EXPR >= N`", alert, r.Expr)
			}
			st.Expr = m[1]
			st.Threshold, _ = strconv.ParseFloat(m[2], 64)
			st.For = parseDuration(t, r.For)
			st.Severity = r.Labels["severity"]
		}
	}
	if !found {
		t.Fatalf("alerts/rules.yml has no %s rule", alert)
	}
	m := stormChanges.FindStringSubmatch(st.Expr)
	if m == nil {
		t.Fatalf("rules.yml: %s counts no changes() of a series (%q)", alert, st.Expr)
	}
	st.Changes, st.Window = m[0], parseDuration(t, m[1])

	am, err := stackconfig.ReadAlertmanager(filepath.Join(repoRoot, "compose", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"alertname": alert, "severity": st.Severity}
	routes, err := am.Route.Match(labels)
	if err != nil {
		t.Fatalf("compose/alertmanager.yml: %v", err)
	}
	if len(routes) != 1 {
		t.Fatalf("compose/alertmanager.yml sends %v through %d routes; the test waits on one", labels, len(routes))
	}
	chosen := routes[0]
	st.Receiver = chosen.Receiver
	st.GroupWait = parseDuration(t, chosen.GroupWait)
	st.GroupInterval = parseDuration(t, chosen.GroupInterval)
	return st
}

func readYAML(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// parseDuration reads a Prometheus duration ("30s", "5m", "1h").
func parseDuration(t testing.TB, s string) time.Duration {
	t.Helper()
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil {
			t.Fatalf("duration %q: %v", s, err)
		}
		return time.Duration(n) * 24 * time.Hour
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}

// TestStormTiming_ShippedFilesPageWithinTheTestsBudget reads the storm's
// paging parameters from the shipped files and checks they are ones the
// end-to-end test can prove in its time budget: a page through the pager
// receiver, a `for` and group_wait of well under a minute, and a window that
// lets the page resolve within minutes.
func TestStormTiming_ShippedFilesPageWithinTheTestsBudget(t *testing.T) {
	st := loadStormTiming(t)
	t.Logf("%+v", st)
	if st.Receiver != "pager" {
		t.Errorf("%s is routed to receiver %q, want pager", st.Alert, st.Receiver)
	}
	if st.Threshold < 2 {
		t.Errorf("%s pages at %v elections: a single failover would page", st.Alert, st.Threshold)
	}
	if budget := fmt.Sprint(st.For + st.GroupWait); st.For+st.GroupWait > 2*time.Minute {
		t.Errorf("%s needs %s of for + group_wait to page; the end-to-end test allows 2m", st.Alert, budget)
	}
	if st.Window+st.GroupInterval > 7*time.Minute {
		t.Errorf("%s resolves %v after a storm at best; the end-to-end test allows 7m", st.Alert, st.Window+st.GroupInterval)
	}
}
