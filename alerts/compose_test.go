package alerts

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// rulesMountPath is where the compose stack mounts alerts/rules.yml and
// where compose/prometheus.yml loads it from.
const rulesMountPath = "/etc/prometheus/rules.yml"

func TestPrometheusConfig(t *testing.T) {
	promtool := mustTool(t, "promtool", "prometheus")
	src, err := os.ReadFile(filepath.Join("..", "compose", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Global struct {
			ExternalLabels map[string]string `yaml:"external_labels"`
		} `yaml:"global"`
		RuleFiles []string `yaml:"rule_files"`
		Alerting  struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
			DNSSDConfigs []struct {
				Names []string `yaml:"names"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(src, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Global.ExternalLabels["cluster"] == "" {
		t.Error("external_labels.cluster is unset; Alertmanager groups and inhibits by it")
	}
	if !slices.Equal(cfg.RuleFiles, []string{rulesMountPath}) {
		t.Errorf("rule_files = %v, want [%s]", cfg.RuleFiles, rulesMountPath)
	}
	if len(cfg.Alerting.Alertmanagers) != 1 || len(cfg.Alerting.Alertmanagers[0].StaticConfigs) != 1 ||
		!slices.Equal(cfg.Alerting.Alertmanagers[0].StaticConfigs[0].Targets, []string{"alertmanager:9093"}) {
		t.Errorf("alerting: want a single alertmanager:9093 target, got %+v", cfg.Alerting)
	}
	targets := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			targets[sc.JobName] = append(targets[sc.JobName], s.Targets...)
		}
		for _, d := range sc.DNSSDConfigs {
			for _, name := range d.Names {
				targets[sc.JobName] = append(targets[sc.JobName], fmt.Sprintf("%s:%d", name, d.Port))
			}
		}
	}
	wantTargets := map[string][]string{
		Job:       {"raftline-1:9644", "raftline-2:9644", "raftline-3:9644"},
		"loadgen": {"loadgen:9700"},
	}
	for job, want := range wantTargets {
		if !slices.Equal(targets[job], want) {
			t.Errorf("job %s scrapes %v, want %v", job, targets[job], want)
		}
	}

	// promtool check config also loads the rule files, which only exist at
	// the mount path inside the container: check a copy of the config that
	// points at a copy of the rules.
	dir := t.TempDir()
	rules, err := os.ReadFile("rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	rulesCopy := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rulesCopy, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	quoted := []byte(" " + rulesMountPath + "\n")
	if n := bytes.Count(src, quoted); n != 1 {
		t.Fatalf("want %s exactly once in compose/prometheus.yml, found %d", rulesMountPath, n)
	}
	local := bytes.Replace(src, quoted, []byte(" "+rulesCopy+"\n"), 1)
	cfgCopy := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgCopy, local, 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, promtool, "check", "config", "--lint=all", "--lint-fatal", cfgCopy)
	if !strings.Contains(out, "SUCCESS: 1 rule files found") {
		t.Errorf("promtool check config did not load the rules:\n%s", out)
	}
}

const alertmanagerConfig = "../compose/alertmanager.yml"

func TestAlertmanagerConfig_Valid(t *testing.T) {
	amtool := mustTool(t, "amtool", "prometheus-alertmanager")
	run(t, amtool, "check-config", alertmanagerConfig)
}

func TestAlertmanagerConfig_Routing(t *testing.T) {
	amtool := mustTool(t, "amtool", "prometheus-alertmanager")
	severity := map[string]string{}
	for _, r := range alertRules(t) {
		severity[r.Alert] = r.Labels["severity"]
	}
	want := map[string]string{SeverityCritical: "pager", SeverityWarning: "ticket", SeverityInfo: "null"}
	for name, sev := range severity {
		receiver := want[sev]
		if name == "RaftElectionStorm" {
			receiver = "pager" // pages whatever its severity
		}
		out := run(t, amtool, "config", "routes", "test", "--config.file="+alertmanagerConfig,
			"alertname="+name, "severity="+sev, "cluster=raftline-local", "job="+Job)
		if got := strings.TrimSpace(out); got != receiver {
			t.Errorf("%s (severity %s) routes to %q, want %q", name, sev, got, receiver)
		}
	}
	// The storm pages even if someone lowers its severity.
	out := run(t, amtool, "config", "routes", "test", "--config.file="+alertmanagerConfig,
		"alertname=RaftElectionStorm", "severity=warning")
	if got := strings.TrimSpace(out); got != "pager" {
		t.Errorf("RaftElectionStorm with severity=warning routes to %q, want pager", got)
	}
}

// amConfig is the part of alertmanager.yml checked below; amtool validates
// the rest.
type amConfig struct {
	Route        amRoute `yaml:"route"`
	InhibitRules []struct {
		SourceMatchers []string `yaml:"source_matchers"`
		TargetMatchers []string `yaml:"target_matchers"`
		Equal          []string `yaml:"equal"`
	} `yaml:"inhibit_rules"`
}

type amRoute struct {
	GroupBy  []string  `yaml:"group_by"`
	Matchers []string  `yaml:"matchers"`
	Routes   []amRoute `yaml:"routes"`
}

func loadAMConfig(t *testing.T) amConfig {
	t.Helper()
	b, err := os.ReadFile(alertmanagerConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg amConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

var matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$`)

// matches evaluates Alertmanager matchers of the forms the config uses
// against a label set. An unparseable matcher fails the test.
func matches(t *testing.T, matchers []string, labels map[string]string) bool {
	t.Helper()
	for _, m := range matchers {
		p := matcherRE.FindStringSubmatch(m)
		if p == nil {
			t.Fatalf("cannot parse matcher %q", m)
		}
		v := labels[p[1]]
		var ok bool
		switch p[2] {
		case "=":
			ok = v == p[3]
		case "!=":
			ok = v != p[3]
		default:
			re := regexp.MustCompile("^(?:" + p[3] + ")$")
			ok = re.MatchString(v) == (p[2] == "=~")
		}
		if !ok {
			return false
		}
	}
	return true
}

func TestAlertmanagerConfig_GroupingAndInhibition(t *testing.T) {
	cfg := loadAMConfig(t)
	if !slices.Equal(cfg.Route.GroupBy, []string{"cluster", "alertname"}) {
		t.Errorf("route.group_by = %v, want [cluster alertname]", cfg.Route.GroupBy)
	}
	inhibits := func(source, target string) bool {
		for _, ir := range cfg.InhibitRules {
			if matches(t, ir.SourceMatchers, map[string]string{"alertname": source}) &&
				matches(t, ir.TargetMatchers, map[string]string{"alertname": target}) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		source, target string
		want           bool
	}{
		{"RaftQuorumLost", "RaftMemberDown", true},
		{"RaftQuorumLost", "RaftNoLeader", true},
		{"RaftQuorumLost", "BrokerProduceErrorRate", true},
		{"RaftNoLeader", "RaftMemberDown", true},
		{"RaftMemberDown", "ScrapeTargetDown", true},
		{"RaftElectionStorm", "RaftLeaderChanged", true},
		// The page for churn must never be silenced by another alert.
		{"RaftQuorumLost", "RaftElectionStorm", false},
		{"RaftNoLeader", "RaftElectionStorm", false},
		{"RaftMemberDown", "RaftElectionStorm", false},
	} {
		if got := inhibits(c.source, c.target); got != c.want {
			t.Errorf("%s inhibits %s: %v, want %v", c.source, c.target, got, c.want)
		}
	}
	for i, ir := range cfg.InhibitRules {
		if !slices.Contains(ir.Equal, "cluster") {
			t.Errorf("inhibit_rules[%d]: equal %v lacks cluster, so one cluster's alert would silence another's", i, ir.Equal)
		}
	}
}

// A misspelt alertname in a route or inhibit rule is valid config that
// silently never matches.
func TestAlertmanagerConfig_NamesExistingAlerts(t *testing.T) {
	cfg := loadAMConfig(t)
	known := map[string]bool{}
	for _, r := range alertRules(t) {
		known[r.Alert] = true
	}
	var matchers []string
	var walk func(amRoute)
	walk = func(r amRoute) {
		matchers = append(matchers, r.Matchers...)
		for _, c := range r.Routes {
			walk(c)
		}
	}
	walk(cfg.Route)
	for _, ir := range cfg.InhibitRules {
		matchers = append(matchers, ir.SourceMatchers...)
		matchers = append(matchers, ir.TargetMatchers...)
	}
	for _, m := range matchers {
		p := matcherRE.FindStringSubmatch(m)
		if p == nil {
			t.Fatalf("cannot parse matcher %q", m)
		}
		if p[1] != "alertname" {
			continue
		}
		for _, name := range strings.Split(p[3], "|") {
			if !known[name] {
				t.Errorf("matcher %q names %s, which is not an alert in rules.yml", m, name)
			}
		}
	}
}
