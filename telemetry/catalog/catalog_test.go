package catalog

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestCommittedMetricsDocIsUpToDate(t *testing.T) {
	want, err := Markdown()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", "..", "docs", "METRICS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/METRICS.md is out of date with telemetry/catalog: run go generate ./telemetry/catalog/... (make metrics-doc)")
	}
}

var (
	metricName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	labelName  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// The catalogue follows Prometheus naming and raftline's own rules: every
// name once, counters end in _total, latency histograms are in seconds,
// every node's series carry node_id and the load generator's do not.
func TestCatalogue_Conventions(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Sections() {
		if s.Title == "" || s.Column == "" || (s.Job != Job && s.Job != LoadgenJob && s.Job != CanaryJob) || len(s.Metrics) == 0 {
			t.Errorf("section %+v", s)
		}
		for _, m := range s.Metrics {
			for _, series := range m.Series() {
				if seen[series] {
					t.Errorf("%s: series %s listed twice", m.Name, series)
				}
				seen[series] = true
			}
			if !metricName.MatchString(m.Name) || IsRuntime(m.Name) {
				t.Errorf("%s: not a name of raftline's own", m.Name)
			}
			prefix := map[string][]string{Job: {"raft_", "raftline_"}, LoadgenJob: {"loadgen_"}, CanaryJob: {"loadgen_canary_"}}[s.Job]
			if !slices.ContainsFunc(prefix, func(p string) bool { return strings.HasPrefix(m.Name, p) }) {
				t.Errorf("%s: job %s's metrics start with %v", m.Name, s.Job, prefix)
			}
			switch m.Type {
			case Counter:
				if !strings.HasSuffix(m.Name, "_total") {
					t.Errorf("%s: a counter's name ends in _total", m.Name)
				}
			case Histogram:
				if !strings.HasSuffix(m.Name, "_seconds") {
					t.Errorf("%s: histograms are latencies in seconds", m.Name)
				}
			case Gauge:
				if strings.HasSuffix(m.Name, "_total") {
					t.Errorf("%s: a gauge's name ends in _total", m.Name)
				}
			default:
				t.Errorf("%s: type %q", m.Name, m.Type)
			}
			if m.Help == "" || !strings.HasSuffix(m.Help, ".") || m.Doc == "" {
				t.Errorf("%s: help %q, doc %q", m.Name, m.Help, m.Doc)
			}
			names := m.LabelNames()
			if len(slices.Compact(slices.Clone(names))) != len(names) {
				t.Errorf("%s: a label is listed twice: %v", m.Name, names)
			}
			for _, l := range m.Labels {
				if !labelName.MatchString(l.Name) || l.Name == "le" || strings.HasPrefix(l.Name, "__") {
					t.Errorf("%s: label %q", m.Name, l.Name)
				}
			}
			hasNode := slices.Contains(names, "node_id")
			if s.Job == Job && (!hasNode || m.Labels[0].Name != "node_id") {
				t.Errorf("%s: a node's metric has node_id as its first label", m.Name)
			}
			if s.Job != Job && hasNode {
				t.Errorf("%s: the load generator is not a node", m.Name)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	if m, ok := Lookup("raft_commit_duration_seconds"); !ok || m.Type != Histogram {
		t.Errorf("Lookup(raft_commit_duration_seconds) = %+v, %v", m, ok)
	}
	for series, want := range map[string]string{
		"raft_commit_duration_seconds_bucket": "raft_commit_duration_seconds",
		"raft_commit_duration_seconds_count":  "raft_commit_duration_seconds",
		"raft_leader_elections_total":         "raft_leader_elections_total",
		"loadgen_e2e_latency_seconds_sum":     "loadgen_e2e_latency_seconds",
		"raft_leader_elections_total_count":   "",
		"raft_current_term_bucket":            "",
		"go_goroutines":                       "",
	} {
		m, ok := LookupSeries(series)
		if m.Name != want || ok != (want != "") {
			t.Errorf("LookupSeries(%s) = %s, %v; want %q", series, m.Name, ok, want)
		}
	}
	if _, ok := Lookup("raft_commit_duration_seconds_bucket"); ok {
		t.Error("Lookup found a histogram's series, not a metric")
	}
	if n, l, c := len(ByJob(Job)), len(ByJob(LoadgenJob)), len(ByJob(CanaryJob)); n < 30 || l == 0 || c == 0 || n+l+c != len(All()) {
		t.Errorf("ByJob: %d node metrics, %d load generator metrics, %d canary metrics, %d in all", n, l, c, len(All()))
	}
	if !IsRuntime("go_goroutines") || !IsRuntime("process_cpu_seconds_total") || IsRuntime("raft_voters") {
		t.Error("IsRuntime")
	}
}
