package stackconfig

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestMatcher(t *testing.T) {
	labels := map[string]string{"alertname": "RaftNoLeader", "severity": "critical", "path": `a"b\c`}
	for s, want := range map[string]bool{
		`alertname="RaftNoLeader"`:               true,
		` alertname = "RaftNoLeader" `:           true,
		`alertname=RaftNoLeader`:                 true,
		`alertname="Raft"`:                       false,
		`alertname!="RaftNoLeader"`:              false,
		`alertname=~"RaftQuorumLost|RaftNoLe.*"`: true,
		`alertname=~"Raft"`:                      false, // anchored
		`alertname!~"X|Y"`:                       true,
		`missing=""`:                             true,
		`missing=~".+"`:                          false,
		`path="a\"b\\c"`:                         true,
		`severity=~"critical|warning"`:           true,
	} {
		m, err := ParseMatcher(s)
		if err != nil {
			t.Errorf("ParseMatcher(%q): %v", s, err)
			continue
		}
		if got := m.Matches(labels); got != want {
			t.Errorf("%q matches %v: %v, want %v", s, labels, got, want)
		}
	}
	for _, bad := range []string{`alertname`, `alertname=="x"`, `{alertname="x"}`, `alertname=~"("`, `a="x" b="y"`, `1a="x"`} {
		if _, err := ParseMatcher(bad); err == nil {
			t.Errorf("ParseMatcher(%q) succeeded", bad)
		}
	}
	m, _ := ParseMatcher(`alertname=~"A|B"`)
	if m.Name != "alertname" || m.Op != "=~" || m.Value != "A|B" {
		t.Errorf("parsed %+v", m)
	}
	if ok, err := MatchAll(nil, labels); !ok || err != nil {
		t.Errorf("MatchAll(none) = %v, %v", ok, err)
	}
	if _, err := MatchAll([]string{"nonsense"}, labels); err == nil {
		t.Error("MatchAll accepted an unparseable matcher")
	}
}

const routing = `
route:
  receiver: default
  group_by: [cluster]
  group_wait: 30s
  group_interval: 5m
  routes:
    - receiver: audit
      matchers: ['team="db"']
      continue: true
    - matchers: ['team="db"']
      group_wait: 10s
      routes:
        - receiver: db-pager
          matchers: ['severity="critical"']
    - receiver: first
      matchers: ['severity=~"warning|info"']
    - receiver: second
      matchers: ['severity="warning"']
`

func TestRoute_Match(t *testing.T) {
	var am Alertmanager
	if err := yaml.Unmarshal([]byte(routing), &am); err != nil {
		t.Fatal(err)
	}
	type got struct{ receiver, wait, interval string }
	for _, c := range []struct {
		labels map[string]string
		want   []got
	}{
		{map[string]string{"severity": "page"}, []got{{"default", "30s", "5m"}}},
		{map[string]string{"severity": "warning"}, []got{{"first", "30s", "5m"}}},
		{map[string]string{"team": "db", "severity": "critical"}, []got{{"audit", "30s", "5m"}, {"db-pager", "10s", "5m"}}},
		// No child of the db route matches: the db route itself handles
		// it, with the receiver it inherits.
		{map[string]string{"team": "db", "severity": "info"}, []got{{"audit", "30s", "5m"}, {"default", "10s", "5m"}}},
	} {
		rs, err := am.Route.Match(c.labels)
		if err != nil {
			t.Fatal(err)
		}
		var gs []got
		for _, r := range rs {
			gs = append(gs, got{r.Receiver, r.GroupWait, r.GroupInterval})
			if !slices.Equal(r.GroupBy, []string{"cluster"}) {
				t.Errorf("%v: group_by %v not inherited", c.labels, r.GroupBy)
			}
		}
		if !slices.Equal(gs, c.want) {
			t.Errorf("%v routes to %v, want %v", c.labels, gs, c.want)
		}
	}
}

func TestPrometheus_Targets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prometheus.yml")
	src := `
global: {scrape_interval: 5s, external_labels: {cluster: c1}}
rule_files: [/r.yml]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["am:9093"]}]
scrape_configs:
  - job_name: a
    static_configs: [{targets: [x:1, y:2]}]
    dns_sd_configs: [{names: [z], type: A, port: 3}]
  - job_name: b
    dns_sd_configs: [{names: [w], port: 4}]
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := ReadPrometheus(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Global.ScrapeInterval != "5s" || p.Global.ExternalLabels["cluster"] != "c1" || !slices.Equal(p.RuleFiles, []string{"/r.yml"}) {
		t.Errorf("read %+v", p)
	}
	if got := p.AlertmanagerTargets(); !slices.Equal(got, []string{"am:9093"}) {
		t.Errorf("AlertmanagerTargets = %v", got)
	}
	targets := p.Targets()
	if !slices.Equal(targets["a"], []string{"x:1", "y:2", "z:3"}) || !slices.Equal(targets["b"], []string{"w:4"}) || len(targets) != 2 {
		t.Errorf("Targets = %v", targets)
	}
	if _, err := ReadPrometheus(filepath.Join(dir, "missing.yml")); err == nil {
		t.Error("ReadPrometheus of a missing file succeeded")
	}
}
