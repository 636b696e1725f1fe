package dashboards

import (
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
		"raft_follower_lag_entries":                     float64(c.FollowerLagEntries),
		"raft_commit_duration_seconds_bucket":           c.CommitLatencyP99.Seconds(),
		"raft_log_store_append_duration_seconds_bucket": c.FsyncP99.Seconds(),
		"raft_last_contact_seconds":                     c.LastContact.Seconds(),
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
	{UIDJourney, "1. Log write and fsync"},
	{UIDJourney, "3. Commit"},
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
