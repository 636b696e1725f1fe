package promql

import (
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`up`:                      {"up"},
		`up{job="raftline"} == 0`: {"up"},
		`sum by (job, node_id) (increase(raft_leader_elections_total{job="raftline"}[5m]))`: {"raft_leader_elections_total"},
		`sum by (node_id, le) (rate(a_bucket{job="j", x="rate(b)"}[1m]))`:                   {"a_bucket"},
		`histogram_quantile(0.99, sum without (instance) (rate(a_bucket[5m])))`:             {"a_bucket"},
		`histogram_quantile(0.99, sum(rate(a_bucket[5m])) by (le))`:                         {"a_bucket"},
		`count by (job) (x == 0) == count(y) by (job)`:                                      {"x", "y"},
		`a / on (job) group_left (node_id) b * ignoring(le) c unless d`:                     {"a", "b", "c", "d"},
		`a - on (node_id) group_left (leader_id) b offset 5m`:                               {"a", "b"},
		`a and bool b or group_left c`:                                                      {"a", "b", "c"},
		`(count(a == 1) or vector(0)) >= bool (floor(max(b) / 2) + 1)`:                      {"a", "b"},
		`x offset 5m > 1e3 and y @ 1609746000 < .5 and z > 1.5e-3 and w > Inf`:              {"x", "y", "z", "w"},
		`x AND y Unless z > NaN`:                                                            {"x", "y", "z"},
		`time() - c{job="$job"} > 1e3 unless d`:                                             {"c", "d"},
		`label_replace(m{a="x"} == 1, "follower_id", "$1", "node_id", "(.*)")`:              {"m"},
		`max_over_time(rate(q{l="}{"}[5m])[1h:1m]) > 0 # comment mentions fake_metric`:      {"q"},
		`sum without (instance) (e) and ignoring (x) f # g`:                                 {"e", "f"},
		`ns:rec:rate5m / sum(m2)`:                                                           {"ns:rec:rate5m", "m2"},
		`{__name__="h"} + i:recorded:rate5m`:                                                {"i:recorded:rate5m"},
		`vector(1) + scalar(time()) + absent(gone)`:                                         {"gone"},
		`topk(3, j) / quantile(0.5, k) + 0x1f`:                                              {"j", "k"},
		`rate(x{job="$job"}[$__rate_interval]) * $scale`:                                    {"x"},
		`{job="x"}`: nil,
		`a + a`:     {"a"},
	} {
		if got := MetricNames(expr); !slices.Equal(got, want) {
			t.Errorf("MetricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}

func TestSelectors(t *testing.T) {
	s := Selectors(`rate(m{job="raftline", node_id=~".*"}[1m]) / n{xjob="a"} + o`)
	if len(s) != 3 {
		t.Fatalf("Selectors = %+v, want three", s)
	}
	if s[0].Metric != "m" || s[0].Matchers != `job="raftline", node_id=~".*"` {
		t.Errorf("selector parsed as %+v", s[0])
	}
	for i, want := range []string{"raftline", "", ""} {
		if got := s[i].Label("job"); got != want {
			t.Errorf("%+v: Label(job) = %q, want %q", s[i], got, want)
		}
	}
	if got := s[0].Label("node_id"); got != ".*" {
		t.Errorf("Label(node_id) = %q, want .*", got)
	}
	if got := (Selector{Metric: "x", Matchers: `a="1",job=~"load.*"`}).Label("job"); got != "load.*" {
		t.Errorf("Label(job) after a comma = %q", got)
	}
}

func TestCalls(t *testing.T) {
	got := Calls(`sum(rate(a[5m])) / increase (b{x="rate(c[1m])"}[1h]) + irate(rate2(d[1m])[5m:]) # rate(e[1m])`,
		"rate", "irate", "increase")
	want := []Call{
		{"rate", "(a[5m])"},
		{"increase", `(b{x="rate(c[1m])"}[1h])`},
		{"irate", "(rate2(d[1m])[5m:])"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Calls = %q, want %q", got, want)
	}
}
