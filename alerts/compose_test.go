package alerts

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/raftline/raftline/alerts/stackconfig"
)

// rulesMountPath is where the compose stack mounts alerts/rules.yml and
// where compose/prometheus.yml loads it from.
const rulesMountPath = "/etc/prometheus/rules.yml"

// compose/prometheus.yml scrapes the nodes under the job the rules select
// and sends alerts, labelled with the cluster Alertmanager groups and
// inhibits by, to the stack's Alertmanager. promtool checks the file as
// the stack mounts it, rules included, in test/compose.
func TestPrometheusConfig(t *testing.T) {
	cfg, err := stackconfig.ReadPrometheus(filepath.Join("..", "compose", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global.ExternalLabels["cluster"] == "" {
		t.Error("external_labels.cluster is unset; Alertmanager groups and inhibits by it")
	}
	if !slices.Equal(cfg.RuleFiles, []string{rulesMountPath}) {
		t.Errorf("rule_files = %v, want [%s]", cfg.RuleFiles, rulesMountPath)
	}
	if len(cfg.Alerting.Alertmanagers) != 1 || !slices.Equal(cfg.AlertmanagerTargets(), []string{"alertmanager:9093"}) {
		t.Errorf("alerting: want a single alertmanager:9093 target, got %+v", cfg.Alerting)
	}
	targets := cfg.Targets()
	wantTargets := map[string][]string{
		Job:       {"raftline-1:9644", "raftline-2:9644", "raftline-3:9644"},
		"loadgen": {"loadgen:9700"},
		// The monitoring scrapes itself and Alertmanager: failing rule
		// evaluations and dropped notifications are there.
		"prometheus":   {"prometheus:9090"},
		"alertmanager": {"alertmanager:9093"},
		// The collector between the nodes and Jaeger: spans received,
		// tail-sampling decisions, spans it failed to export.
		"otelcol": {"otelcol:8888"},
	}
	for job, want := range wantTargets {
		if !slices.Equal(targets[job], want) {
			t.Errorf("job %s scrapes %v, want %v", job, targets[job], want)
		}
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
	// route asks amtool where an alert goes, and checks that
	// stackconfig's evaluation of the routes, which the end-to-end test's
	// timing relies on, agrees.
	cfg := loadAMConfig(t)
	route := func(labels map[string]string) string {
		t.Helper()
		var args []string
		for k, v := range labels {
			args = append(args, k+"="+v)
		}
		slices.Sort(args)
		got := strings.TrimSpace(run(t, amtool, append([]string{"config", "routes", "test", "--config.file=" + alertmanagerConfig}, args...)...))
		rs, err := cfg.Route.Match(labels)
		if err != nil {
			t.Fatal(err)
		}
		var receivers []string
		for _, r := range rs {
			receivers = append(receivers, r.Receiver)
		}
		if ours := strings.Join(receivers, ","); ours != got {
			t.Errorf("%v: amtool routes to %q, stackconfig to %q", args, got, ours)
		}
		return got
	}
	want := map[string]string{SeverityCritical: "pager", SeverityWarning: "ticket", SeverityInfo: "null"}
	for name, sev := range severity {
		receiver := want[sev]
		switch name {
		case "RaftElectionStorm":
			receiver = "pager" // pages whatever its severity
		case "Watchdog":
			receiver = "deadmansswitch" // the heartbeat, to no person
		}
		got := route(map[string]string{"alertname": name, "severity": sev, "cluster": "raftline-local", "job": Job})
		if got != receiver {
			t.Errorf("%s (severity %s) routes to %q, want %q", name, sev, got, receiver)
		}
	}
	// The storm pages even if someone lowers its severity.
	if got := route(map[string]string{"alertname": "RaftElectionStorm", "severity": "warning"}); got != "pager" {
		t.Errorf("RaftElectionStorm with severity=warning routes to %q, want pager", got)
	}
	// The heartbeat never pages, whatever labels it carries.
	if got := route(map[string]string{"alertname": "Watchdog", "severity": "critical"}); got != "deadmansswitch" {
		t.Errorf("Watchdog with severity=critical routes to %q, want deadmansswitch", got)
	}
	// Neither a severity nor a name: the root's receiver.
	route(map[string]string{"alertname": "Other"})
}

func loadAMConfig(t *testing.T) stackconfig.Alertmanager {
	t.Helper()
	cfg, err := stackconfig.ReadAlertmanager(alertmanagerConfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// matches evaluates Alertmanager matchers against a label set. An
// unparseable matcher fails the test.
func matches(t *testing.T, matchers []string, labels map[string]string) bool {
	t.Helper()
	ok, err := stackconfig.MatchAll(matchers, labels)
	if err != nil {
		t.Fatal(err)
	}
	return ok
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
		{"RaftElectionStorm", "RaftLeaderChurn", true},
		{"RaftNodeCrashLooping", "RaftMemberDown", true},
		// Nothing may silence the heartbeat or the crash loop's page.
		{"RaftQuorumLost", "Watchdog", false},
		{"RaftNoLeader", "Watchdog", false},
		{"RaftQuorumLost", "RaftNodeCrashLooping", false},
		{"DiskFreeSpaceBelowFloor", "DiskFillingUp", true},
		{"ConsumerGroupRebalanceStorm", "ConsumerGroupLagGrowing", true},
		{"RaftElectionStorm", "ConsumerGroupRebalanceStorm", true},
		{"RaftNoLeader", "ConsumerGroupLagGrowing", true},
		// A group with lag and no members is the application's to fix,
		// whatever the brokers do.
		{"RaftQuorumLost", "ConsumerGroupLagNoMembers", false},
		{"ConsumerGroupRebalanceStorm", "ConsumerGroupLagNoMembers", false},
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
	var walk func(stackconfig.Route)
	walk = func(r stackconfig.Route) {
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
	for _, s := range matchers {
		m, err := stackconfig.ParseMatcher(s)
		if err != nil {
			t.Fatal(err)
		}
		if m.Name != "alertname" {
			continue
		}
		names := []string{m.Value}
		if m.Op == "=~" || m.Op == "!~" {
			names = strings.Split(m.Value, "|")
		}
		for _, name := range names {
			if !known[name] {
				t.Errorf("matcher %q names %s, which is not an alert in rules.yml", s, name)
			}
		}
	}
}
