package dashboards

import (
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/raftline/raftline/alerts"
	"github.com/raftline/raftline/internal/promql"
)

// alertValues are the thresholds of the generated alert rules, by the
// metric their panels plot, read straight from the alerts package.
func alertValues() map[string]float64 {
	c := alerts.DefaultConfig()
	return map[string]float64{
		"raft_follower_lag_entries":                       float64(c.FollowerLagEntries),
		"raft_commit_duration_seconds_bucket":             c.CommitLatencyP99.Seconds(),
		"raft_log_store_append_duration_seconds_bucket":   c.FsyncP99.Seconds(),
		"raft_last_contact_seconds":                       c.LastContact.Seconds(),
		"raftline_memory_limit_bytes":                     c.MemoryShare,
		"node_id:raftline_leader_clock_skew_seconds:diff": c.ClockSkew.Seconds(),
	}
}

// panelsWithAlertLimit must draw an alert's threshold: the panels an
// on-call compares with the alert that paged.
var panelsWithAlertLimit = []struct{ uid, title string }{
	{UIDRaft, "Commit latency"},
	{UIDRaft, "Log append (fsync) p99"},
	{UIDRaft, "Follower lag"},
	{UIDRaft, "Last contact with leader"},
	{UIDOverview, "Slowest follower"},
	{UIDOverview, "Memory of limit"},
	{UIDJourney, "2. Log write and fsync"},
	{UIDJourney, "4. Commit"},
	{UIDNode, "Clock skew from the leader"},
}

func redStep(p dashboard.Panel) (float64, bool) {
	if p.FieldConfig == nil || p.FieldConfig.Defaults.Thresholds == nil {
		return 0, false
	}
	for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
		if s.Color == "red" && s.Value != nil {
			return *s.Value, true
		}
	}
	return 0, false
}

// A panel that plots what an alert watches and draws a red line draws it
// at the alert's threshold, and says so in its description.
func TestPanelThresholdsAreTheAlertThresholds(t *testing.T) {
	want := alertValues()
	found := map[string]bool{}
	for _, d := range mustBuild(t) {
		for _, p := range panels(d) {
			where := *d.Uid + " / " + deref(p.Title)
			red, ok := redStep(p)
			if !ok {
				continue
			}
			for _, e := range exprs(p) {
				for _, s := range promql.Selectors(e) {
					v, watched := want[s.Metric]
					if !watched {
						continue
					}
					found[*d.Uid+" / "+deref(p.Title)] = true
					if red != v {
						t.Errorf("%s: red threshold %v, alert threshold for %s is %v", where, red, s.Metric, v)
					}
					if warn := thresholdSteps(p)["orange"]; warn != v*alertWarnShare {
						t.Errorf("%s: orange threshold %v, want %v", where, warn, v*alertWarnShare)
					}
				}
			}
		}
	}
	for _, pt := range panelsWithAlertLimit {
		if !found[pt.uid+" / "+pt.title] {
			t.Errorf("%s / %s: draws no alert threshold", pt.uid, pt.title)
		}
	}
}

func thresholdSteps(p dashboard.Panel) map[string]float64 {
	m := map[string]float64{}
	for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
		if s.Value != nil {
			m[s.Color] = *s.Value
		}
	}
	return m
}

// The overview's write error ratio is BrokerProduceErrorRate's ratio, with
// its threshold.
func TestWriteErrorRatioThreshold(t *testing.T) {
	c := alerts.DefaultConfig()
	p := findPanel(t, UIDOverview, "Write error ratio")
	if red, ok := redStep(p); !ok || red != c.ProduceErrorRatio {
		t.Errorf("red threshold %v, alert threshold %v", red, c.ProduceErrorRatio)
	}
	if warn := thresholdSteps(p)["orange"]; warn != c.ProduceErrorRatio*alertWarnShare {
		t.Errorf("orange threshold %v, want %v", warn, c.ProduceErrorRatio*alertWarnShare)
	}
	if deref(p.FieldConfig.Defaults.Unit) != "percentunit" {
		t.Errorf("unit %q, want a ratio (percentunit)", deref(p.FieldConfig.Defaults.Unit))
	}
}

// The descriptions state the lines in words, from the same values.
func TestAlertLimitDescriptions(t *testing.T) {
	c := alerts.DefaultConfig()
	for _, tc := range []struct{ uid, title, text string }{
		{UIDRaft, "Commit latency", c.CommitLatencyP99.String() + " (red)"},
		{UIDRaft, "Log append (fsync) p99", c.FsyncP99.String() + " (red)"},
		{UIDRaft, "Last contact with leader", c.LastContact.String() + " (red)"},
	} {
		p := findPanel(t, tc.uid, tc.title)
		if !strings.Contains(deref(p.Description), tc.text) {
			t.Errorf("%s / %s: description %q does not state %q", tc.uid, tc.title, deref(p.Description), tc.text)
		}
	}
}

func findPanel(t *testing.T, uid, title string) dashboard.Panel {
	t.Helper()
	for _, d := range mustBuild(t) {
		if *d.Uid != uid {
			continue
		}
		for _, p := range panels(d) {
			if deref(p.Title) == title {
				return p
			}
		}
	}
	t.Fatalf("no panel %s / %s", uid, title)
	return dashboard.Panel{}
}

// The overview's SLO tiles read the recorded ratios the burn-rate alerts
// compare, over the fast page's long window, and colour them by the
// alerts' factors: yellow from the ticket's, red from the fast page's. The
// budget tiles colour as the Produce SLOs dashboard does. Both link there.
func TestOverviewSLOTilesUseTheBurnAlertsFactors(t *testing.T) {
	w := alerts.BurnWindows[0]
	var factors []float64
	for _, bw := range alerts.BurnWindows {
		factors = append(factors, bw.Factor)
	}
	slices.Sort(factors)
	for _, s := range alerts.SLOs() {
		burn := findPanel(t, UIDOverview, s.Title+": burn rate, "+w.Long.String())
		var got []float64
		for _, st := range burn.FieldConfig.Defaults.Thresholds.Steps {
			if st.Value != nil {
				got = append(got, *st.Value)
			}
		}
		if !slices.Equal(got, factors) {
			t.Errorf("%s burn rate: thresholds %v, the alerts' factors are %v", s.Title, got, factors)
		}
		if red, ok := redStep(burn); !ok || red != w.Factor {
			t.Errorf("%s burn rate: red from %v, the fast page fires at %v", s.Title, red, w.Factor)
		}
		e := exprs(burn)
		if len(e) != 1 || !strings.Contains(e[0], s.ErrorRatioRecord(w.Long)+`{job="$job", cluster=~"$cluster"}) / `+num(s.Budget())) {
			t.Errorf("%s burn rate: %q is not %s over the budget %s", s.Title, e, s.ErrorRatioRecord(w.Long), num(s.Budget()))
		}

		budget := findPanel(t, UIDOverview, s.Title+": error budget left")
		onSLO := findPanel(t, UIDSLO, s.Title+": error budget left, 30 days")
		if !slices.EqualFunc(budget.FieldConfig.Defaults.Thresholds.Steps, onSLO.FieldConfig.Defaults.Thresholds.Steps, func(a, b dashboard.Threshold) bool {
			return a.Color == b.Color && (a.Value == nil) == (b.Value == nil) && (a.Value == nil || *a.Value == *b.Value)
		}) {
			t.Errorf("%s budget left: thresholds differ from the Produce SLOs dashboard's", s.Title)
		}
		if e := exprs(budget); len(e) != 1 || !strings.Contains(e[0], s.ErrorRatioRecord(s.Period)) {
			t.Errorf("%s budget left: %q does not read %s", s.Title, e, s.ErrorRatioRecord(s.Period))
		}

		for _, p := range []dashboard.Panel{burn, budget} {
			if !slices.ContainsFunc(p.FieldConfig.Defaults.Links, func(l dashboard.DashboardLink) bool {
				u := deref(l.Url)
				return strings.HasPrefix(u, "/d/"+UIDSLO+"/") && strings.Contains(u, "${__url_time_range}") && strings.Contains(u, "${job:queryparam}")
			}) {
				t.Errorf("%s: no link to the Produce SLOs dashboard", deref(p.Title))
			}
		}
	}
}
