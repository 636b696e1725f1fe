// Package stackconfig reads the Prometheus and Alertmanager configuration
// raftline ships beside its rules (compose/prometheus.yml and
// compose/alertmanager.yml), and evaluates Alertmanager's route tree and
// matchers the way Alertmanager does, so tests can ask where an alert goes
// and what inhibits it without running Alertmanager.
//
// Only the parts raftline's tests read are modelled; promtool and amtool
// validate the whole files. Alertmanager's own packages are not a
// dependency of the module, and this much of its routing is small.
package stackconfig

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Prometheus is the part of a Prometheus configuration file read here.
type Prometheus struct {
	Global        PrometheusGlobal `yaml:"global"`
	RuleFiles     []string         `yaml:"rule_files"`
	Alerting      Alerting         `yaml:"alerting"`
	ScrapeConfigs []ScrapeConfig   `yaml:"scrape_configs"`
}

// PrometheusGlobal is a configuration's global section.
type PrometheusGlobal struct {
	ScrapeInterval     string            `yaml:"scrape_interval"`
	ScrapeTimeout      string            `yaml:"scrape_timeout"`
	EvaluationInterval string            `yaml:"evaluation_interval"`
	ExternalLabels     map[string]string `yaml:"external_labels"`
}

// Alerting lists the Alertmanagers Prometheus sends alerts to.
type Alerting struct {
	Alertmanagers []struct {
		StaticConfigs []StaticConfig `yaml:"static_configs"`
	} `yaml:"alertmanagers"`
}

// StaticConfig is a list of fixed targets.
type StaticConfig struct {
	Targets []string `yaml:"targets"`
}

// DNSSDConfig discovers targets by DNS names.
type DNSSDConfig struct {
	Names []string `yaml:"names"`
	Type  string   `yaml:"type"`
	Port  int      `yaml:"port"`
}

// ScrapeConfig is one scrape job.
type ScrapeConfig struct {
	JobName       string         `yaml:"job_name"`
	StaticConfigs []StaticConfig `yaml:"static_configs"`
	DNSSDConfigs  []DNSSDConfig  `yaml:"dns_sd_configs"`
}

// Targets returns the job's static targets, then its DNS names as
// name:port, in file order.
func (s ScrapeConfig) Targets() []string {
	var out []string
	for _, sc := range s.StaticConfigs {
		out = append(out, sc.Targets...)
	}
	for _, d := range s.DNSSDConfigs {
		for _, n := range d.Names {
			out = append(out, net.JoinHostPort(n, strconv.Itoa(d.Port)))
		}
	}
	return out
}

// Targets maps each scrape job's name to its Targets.
func (p Prometheus) Targets() map[string][]string {
	out := map[string][]string{}
	for _, sc := range p.ScrapeConfigs {
		out[sc.JobName] = append(out[sc.JobName], sc.Targets()...)
	}
	return out
}

// AlertmanagerTargets returns every Alertmanager address alerts are sent to.
func (p Prometheus) AlertmanagerTargets() []string {
	var out []string
	for _, am := range p.Alerting.Alertmanagers {
		for _, sc := range am.StaticConfigs {
			out = append(out, sc.Targets...)
		}
	}
	return out
}

// ReadPrometheus reads a Prometheus configuration file.
func ReadPrometheus(path string) (Prometheus, error) {
	var p Prometheus
	return p, readYAML(path, &p)
}

// Alertmanager is the part of an Alertmanager configuration file read here.
type Alertmanager struct {
	Route        Route         `yaml:"route"`
	InhibitRules []InhibitRule `yaml:"inhibit_rules"`
	Receivers    []Receiver    `yaml:"receivers"`
}

// Receiver is a named notification target; raftline's post to webhooks.
type Receiver struct {
	Name           string          `yaml:"name"`
	WebhookConfigs []WebhookConfig `yaml:"webhook_configs"`
}

// WebhookConfig is one webhook a receiver posts to.
type WebhookConfig struct {
	URL string `yaml:"url"`
}

// Route is a node of Alertmanager's routing tree.
type Route struct {
	Receiver       string   `yaml:"receiver"`
	GroupBy        []string `yaml:"group_by"`
	Matchers       []string `yaml:"matchers"`
	Continue       bool     `yaml:"continue"`
	GroupWait      string   `yaml:"group_wait"`
	GroupInterval  string   `yaml:"group_interval"`
	RepeatInterval string   `yaml:"repeat_interval"`
	Routes         []Route  `yaml:"routes"`
}

// InhibitRule mutes alerts matching TargetMatchers while an alert matching
// SourceMatchers fires with the same values of the Equal labels.
type InhibitRule struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

// ReadAlertmanager reads an Alertmanager configuration file.
func ReadAlertmanager(path string) (Alertmanager, error) {
	var a Alertmanager
	return a, readYAML(path, &a)
}

// Match returns the routes that handle an alert with the given labels, as
// Alertmanager picks them. r is taken to match (the root route matches
// every alert). Its children are tried in order: a matching child is
// descended into, and the search stops there unless that child sets
// continue. A route none of whose children match handles the alert itself.
// Each route returned carries the receiver, grouping and timing it
// inherits from its parents where it sets none of its own.
func (r Route) Match(labels map[string]string) ([]Route, error) {
	var out []Route
	for _, c := range r.Routes {
		ok, err := MatchAll(c.Matchers, labels)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		sub, err := c.inherit(r).Match(labels)
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
		if !c.Continue {
			break
		}
	}
	if len(out) == 0 {
		out = []Route{r}
	}
	return out, nil
}

func (r Route) inherit(parent Route) Route {
	if r.Receiver == "" {
		r.Receiver = parent.Receiver
	}
	if r.GroupBy == nil {
		r.GroupBy = parent.GroupBy
	}
	for _, f := range []struct{ child, parent *string }{
		{&r.GroupWait, &parent.GroupWait},
		{&r.GroupInterval, &parent.GroupInterval},
		{&r.RepeatInterval, &parent.RepeatInterval},
	} {
		if *f.child == "" {
			*f.child = *f.parent
		}
	}
	return r
}

// Matcher is one Alertmanager label matcher: name="value", name!="value",
// name=~"regex" or name!~"regex".
type Matcher struct {
	Name  string
	Op    string // =, !=, =~ or !~
	Value string // unquoted
	re    *regexp.Regexp
}

var matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^\s"'{},=~!]*)\s*$`)

// ParseMatcher parses a matcher in the forms Alertmanager's matchers lists
// take, with a quoted or a bare value.
func ParseMatcher(s string) (Matcher, error) {
	p := matcherRE.FindStringSubmatch(s)
	if p == nil {
		return Matcher{}, fmt.Errorf("matcher %q is not name=\"value\", !=, =~ or !~", s)
	}
	m := Matcher{Name: p[1], Op: p[2], Value: p[3]}
	if strings.HasPrefix(m.Value, `"`) {
		v, err := strconv.Unquote(m.Value)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: %v", s, err)
		}
		m.Value = v
	}
	if m.Op == "=~" || m.Op == "!~" {
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: %v", s, err)
		}
		m.re = re
	}
	return m, nil
}

// Matches reports whether labels satisfy the matcher; a missing label has
// the empty value.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case "=":
		return v == m.Value
	case "!=":
		return v != m.Value
	case "=~":
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

// MatchAll reports whether labels satisfy every matcher (true for none).
func MatchAll(matchers []string, labels map[string]string) (bool, error) {
	for _, s := range matchers {
		m, err := ParseMatcher(s)
		if err != nil {
			return false, err
		}
		if !m.Matches(labels) {
			return false, nil
		}
	}
	return true, nil
}

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
