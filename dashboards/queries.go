package dashboards

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/raftline/raftline/internal/promql"
)

// Panel is one generated panel and the PromQL its targets run.
type Panel struct {
	Title string
	// Type is the Grafana panel type, e.g. "timeseries" or "stat".
	Type string
	// Exprs are the targets' queries in target order, exactly as in the
	// JSON: Grafana variables are not expanded (see Expand).
	Exprs []string
}

// DashboardQueries is one dashboard's panels and their queries.
type DashboardQueries struct {
	UID    string
	Title  string
	Panels []Panel
}

// Queries returns, for every dashboard, every Prometheus panel's title and
// PromQL. It reads the built dashboards, so it lists exactly what Grafana
// will run. Panels of other data sources (the Jaeger trace search) and alert
// lists are left out; TracePanels and AlertLists list those.
func Queries() ([]DashboardQueries, error) {
	ds, err := Build()
	if err != nil {
		return nil, err
	}
	out := make([]DashboardQueries, 0, len(ds))
	for _, d := range ds {
		dq := DashboardQueries{UID: *d.Uid, Title: *d.Title}
		for _, p := range panels(d) {
			if !isPrometheusPanel(p) {
				continue
			}
			dq.Panels = append(dq.Panels, Panel{Title: deref(p.Title), Type: p.Type, Exprs: exprs(p)})
		}
		out = append(out, dq)
	}
	return out, nil
}

// panels flattens a dashboard's panels, including those inside collapsed
// rows, and drops the rows themselves.
func panels(d dashboard.Dashboard) []dashboard.Panel {
	var ps []dashboard.Panel
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			ps = append(ps, *p.Panel)
		case p.RowPanel != nil:
			ps = append(ps, p.RowPanel.Panels...)
		}
	}
	return ps
}

func exprs(p dashboard.Panel) []string {
	var es []string
	for _, t := range p.Targets {
		switch q := t.(type) {
		case prometheus.Dataquery:
			es = append(es, q.Expr)
		case *prometheus.Dataquery:
			es = append(es, q.Expr)
		}
	}
	return es
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Vars are concrete values for the Grafana variables the queries use, for
// running them against Prometheus directly.
type Vars struct {
	RateInterval string // $__rate_interval, a PromQL duration
	Interval     string // $__interval, a PromQL duration
	// Cluster is $cluster: a regular expression over the cluster label,
	// ".*" for "All" (which also matches series without the label).
	Cluster    string
	Job        string // $job: the brokers' Prometheus job
	LoadgenJob string // $loadgen_job: the load generator's Prometheus job
	CanaryJob  string // $canary_job: the canary's (loadgen canary) Prometheus job
	// Node is $node: a regular expression over node_id, inserted as is.
	// ".*" is what Grafana sends for "All"; a single node id selects one node.
	Node string
	// Group is $group: a regular expression over consumer group names,
	// ".*" for "All".
	Group string
}

// DefaultVars are the values a default dashboard load would use: every node
// of job "raftline", every consumer group, load generator job "loadgen", and a one-minute rate
// window (four times a 15s scrape interval, as Grafana would compute it).
func DefaultVars() Vars {
	return Vars{
		RateInterval: "1m",
		Interval:     "15s",
		Cluster:      ".*",
		Job:          "raftline",
		LoadgenJob:   "loadgen",
		CanaryJob:    "canary",
		Node:         ".*",
		Group:        ".*",
	}
}

// grafanaVar matches $name, ${name}, ${name:format} and [[name]]. Names
// start with a letter or underscore so that regex back-references such as
// $1 are not taken for variables.
var grafanaVar = regexp.MustCompile(`\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)(?::[^\]]*)?\]\]`)

// Expand replaces the Grafana variables in expr with the values in v. It
// fails on a variable it has no value for, so that a query never reaches
// Prometheus with a "$" left in it.
func Expand(expr string, v Vars) (string, error) {
	values := map[string]string{
		"__rate_interval": v.RateInterval,
		"__interval":      v.Interval,
		"cluster":         v.Cluster,
		"job":             v.Job,
		"loadgen_job":     v.LoadgenJob,
		"canary_job":      v.CanaryJob,
		"node":            v.Node,
		"group":           v.Group,
	}
	var unknown []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		val, ok := values[name]
		if !ok || val == "" {
			unknown = append(unknown, name)
			return m
		}
		return val
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("no value for variable(s) %s in %q", strings.Join(unknown, ", "), expr)
	}
	return out, nil
}

// prometheusSeries are series Prometheus creates itself for every target;
// no exporter serves them, so they are not reported as metric names.
var prometheusSeries = map[string]bool{
	"up":                                    true,
	"scrape_duration_seconds":               true,
	"scrape_samples_scraped":                true,
	"scrape_samples_post_metric_relabeling": true,
	"scrape_series_added":                   true,
	"ALERTS":                                true,
	"ALERTS_FOR_STATE":                      true,
}

// MetricNames lists, sorted and once each, every metric name the queries
// select, spelled as in a /metrics exposition: a histogram_quantile over
// x_bucket yields "x_bucket" and counters keep "_total". Series Prometheus
// generates itself (up) are left out. Names starting with "loadgen_" are
// exported by the load generator, all others by every raftline node; see
// MetricNamesByJob.
func MetricNames() ([]string, error) {
	byJob, err := MetricNamesByJob()
	if err != nil {
		return nil, err
	}
	var all []string
	for _, names := range byJob {
		all = append(all, names...)
	}
	return sortedUnique(all), nil
}

// MetricNamesByJob is MetricNames grouped by the Prometheus job each
// selector matches, with variables expanded by DefaultVars: "raftline" for
// the brokers, "loadgen" for the load generator and "canary" for its canary
// mode.
func MetricNamesByJob() (map[string][]string, error) {
	qs, err := Queries()
	if err != nil {
		return nil, err
	}
	byJob := map[string][]string{}
	for _, d := range qs {
		for _, p := range d.Panels {
			for _, e := range p.Exprs {
				expanded, err := Expand(e, DefaultVars())
				if err != nil {
					return nil, fmt.Errorf("%s / %s: %w", d.UID, p.Title, err)
				}
				for _, s := range promql.Selectors(expanded) {
					if prometheusSeries[s.Metric] {
						continue
					}
					job := s.Label("job")
					byJob[job] = append(byJob[job], s.Metric)
				}
			}
		}
	}
	for job, names := range byJob {
		byJob[job] = sortedUnique(names)
	}
	return byJob, nil
}

func sortedUnique(ss []string) []string {
	sort.Strings(ss)
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// isPrometheusPanel reports whether a panel runs PromQL on the $datasource
// Prometheus; the others read traces (see TracePanels) or list alert rules
// (see AlertLists).
func isPrometheusPanel(p dashboard.Panel) bool {
	if p.Type == AlertListType {
		return false
	}
	return p.Datasource == nil || deref(p.Datasource.Uid) == "${datasource}"
}

// AlertList is an alert list panel: it runs no query of its own but lists
// the alert rules of a rule source.
type AlertList struct {
	Dashboard, Title string
	Options          AlertListOptions
}

// AlertLists lists every alert list panel with its options.
func AlertLists() ([]AlertList, error) {
	ds, err := Build()
	if err != nil {
		return nil, err
	}
	var out []AlertList
	for _, d := range ds {
		for _, p := range panels(d) {
			if p.Type != AlertListType {
				continue
			}
			opts, ok := alertListOptions(p)
			if !ok {
				return nil, fmt.Errorf("%s / %s: alert list options are %T", *d.Uid, deref(p.Title), p.Options)
			}
			out = append(out, AlertList{Dashboard: *d.Uid, Title: deref(p.Title), Options: opts})
		}
	}
	return out, nil
}

// alertListOptions reads an alert list's options back; the SDK's builder
// stores them behind a pointer to any.
func alertListOptions(p dashboard.Panel) (AlertListOptions, bool) {
	o := p.Options
	if ptr, isPtr := o.(*any); isPtr && ptr != nil {
		o = *ptr
	}
	opts, ok := o.(AlertListOptions)
	return opts, ok
}

// TracePanel is a panel that searches traces rather than Prometheus.
type TracePanel struct {
	Dashboard, Title string
	Query            JaegerQuery
}

// TracePanels lists every panel whose targets are Jaeger searches.
func TracePanels() ([]TracePanel, error) {
	ds, err := Build()
	if err != nil {
		return nil, err
	}
	var out []TracePanel
	for _, d := range ds {
		for _, p := range panels(d) {
			for _, t := range p.Targets {
				if q, ok := t.(JaegerQuery); ok {
					out = append(out, TracePanel{Dashboard: *d.Uid, Title: deref(p.Title), Query: q})
				}
			}
		}
	}
	return out, nil
}

// Annotation is one dashboard annotation that runs PromQL.
type Annotation struct {
	Dashboard, Name string
	// Expr is the query as in the JSON: variables are not expanded.
	Expr string
}

// Annotations lists every dashboard's PromQL annotations: events such as
// elections and restarts marked on every graph.
func Annotations() ([]Annotation, error) {
	ds, err := Build()
	if err != nil {
		return nil, err
	}
	var out []Annotation
	for _, d := range ds {
		for _, a := range d.Annotations.List {
			if a.Expr != nil {
				out = append(out, Annotation{Dashboard: *d.Uid, Name: a.Name, Expr: *a.Expr})
			}
		}
	}
	return out, nil
}
