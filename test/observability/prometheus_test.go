package observability

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/raftline/raftline/alerts/stackconfig"
)

// Scrape and evaluation run every second so that the test sees a change
// within a second or two. The rules' windows (5m for the storm) and `for`
// durations are the committed ones; only the sampling is finer than in
// compose/prometheus.yml's 5s.
const promInterval = "1s"

// promConfig is what the test writes for Prometheus: the compose file's
// external labels (Alertmanager groups and inhibits by cluster), the
// committed rules file, and the test's own targets and Alertmanager.
type promConfig struct {
	ExternalLabels map[string]string
	RulesFile      string
	Alertmanager   string
	Nodes          []string // raftline HTTP addresses, job raftline
	Loadgen        string   // load generator metrics address, job loadgen; "": none
	Canary         string   // canary (loadgen canary) metrics address, job canary; "": none
}

func (c promConfig) yaml() ([]byte, error) {
	scrapes := []any{
		map[string]any{"job_name": "raftline", "static_configs": []any{map[string]any{"targets": c.Nodes}}},
	}
	if c.Loadgen != "" {
		scrapes = append(scrapes, map[string]any{"job_name": "loadgen", "static_configs": []any{map[string]any{"targets": []string{c.Loadgen}}}})
	}
	if c.Canary != "" {
		scrapes = append(scrapes, map[string]any{"job_name": "canary", "static_configs": []any{map[string]any{"targets": []string{c.Canary}}}})
	}
	doc := map[string]any{
		"global": map[string]any{
			"scrape_interval":     promInterval,
			"scrape_timeout":      promInterval,
			"evaluation_interval": promInterval,
			"external_labels":     c.ExternalLabels,
		},
		"rule_files":     []string{c.RulesFile},
		"scrape_configs": scrapes,
	}
	if c.Alertmanager != "" {
		doc["alerting"] = map[string]any{
			"alertmanagers": []any{map[string]any{
				"static_configs": []any{map[string]any{"targets": []string{c.Alertmanager}}},
			}},
		}
	}
	return yaml.Marshal(doc)
}

// composeExternalLabels reads global.external_labels from the shipped
// compose/prometheus.yml.
func composeExternalLabels(t testing.TB) map[string]string {
	t.Helper()
	cfg, err := stackconfig.ReadPrometheus(filepath.Join(repoRoot, "compose", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global.ExternalLabels["cluster"] == "" {
		t.Fatal("compose/prometheus.yml sets no external_labels.cluster, which Alertmanager groups by")
	}
	return cfg.Global.ExternalLabels
}

// startPrometheus runs the installed Prometheus on addr with cfg, checks
// the configuration with promtool first (so a bad file fails with
// promtool's message rather than a dead server), and waits until it is
// ready.
func startPrometheus(t testing.TB, ps *procs, dir, addr string, cfg promConfig) *promAPI {
	t.Helper()
	bin := requireTool(t, "prometheus", "prometheus")
	promtool := requireTool(t, "prometheus", "promtool")
	b, err := cfg.yaml()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s\n%s", err, out, b)
	}
	p := ps.add(newProc(dir, "prometheus", bin,
		"--config.file="+path,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus-data"),
		"--web.listen-address="+addr,
		"--log.level=info",
		// As compose/compose.yaml: the latency histograms' exemplars
		// (trace ids) are kept.
		"--enable-feature=exemplar-storage",
	))
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	api := &promAPI{base: "http://" + addr}
	waitFor(t, 60*time.Second, "Prometheus to be ready", func() error {
		if err := p.ExitErr(); err != nil {
			return err
		}
		return getOK(api.base + "/-/ready")
	})
	return api
}

// startPrometheus runs Prometheus with the committed rules and the
// compose file's external labels, scraping the cluster's nodes alone (no
// Alertmanager), and waits until it scrapes all three.
func (c *cluster) startPrometheus(t testing.TB, ps *procs, dir, addr string) *promAPI {
	t.Helper()
	var nodeAddrs []string
	for _, nd := range c.nodes {
		nodeAddrs = append(nodeAddrs, nd.http)
	}
	prom := startPrometheus(t, ps, dir, addr, promConfig{
		ExternalLabels: composeExternalLabels(t),
		RulesFile:      filepath.Join(repoRoot, "alerts", "rules.yml"),
		Nodes:          nodeAddrs,
	})
	waitFor(t, 60*time.Second, "Prometheus to scrape the three nodes", func() error {
		return atLeast(prom, `count(up{job="raftline"} == 1)`, 3)
	})
	return prom
}

// alertmanagerConfig derives the test's Alertmanager configuration from
// the shipped compose/alertmanager.yml: every receiver URL on the compose
// network's webhook sink (http://pager:9099/...) is pointed at the test's
// webhook instead, and nothing else changes. Routes, group_wait,
// group_interval, repeat_interval and inhibitions are the shipped ones: the
// pager route's 10s group_wait and 1m group_interval are short enough for
// the test, so it measures the real paging and resolution delay.
func alertmanagerConfig(t testing.TB, webhookBase string) []byte {
	t.Helper()
	const sink = "http://pager:9099/"
	b, err := os.ReadFile(filepath.Join(repoRoot, "compose", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	if !strings.Contains(src, sink) {
		t.Fatalf("compose/alertmanager.yml has no receiver on %s to redirect to the test's webhook", sink)
	}
	out := strings.ReplaceAll(src, sink, strings.TrimSuffix(webhookBase, "/")+"/")
	// Every webhook must now reach the test, or a page could go nowhere
	// and the test would wait for it in vain.
	var cfg struct {
		Receivers []struct {
			Name     string `yaml:"name"`
			Webhooks []struct {
				URL string `yaml:"url"`
			} `yaml:"webhook_configs"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("compose/alertmanager.yml: %v", err)
	}
	for _, r := range cfg.Receivers {
		for _, w := range r.Webhooks {
			if !strings.HasPrefix(w.URL, webhookBase) {
				t.Fatalf("receiver %s posts to %s, which the test cannot receive", r.Name, w.URL)
			}
		}
	}
	return []byte(out)
}

// startAlertmanager runs the installed Alertmanager on addr with config,
// with clustering disabled, checked by amtool first, and waits until it is
// ready.
func startAlertmanager(t testing.TB, ps *procs, dir, addr string, config []byte) string {
	t.Helper()
	// Debian names the binary prometheus-alertmanager; upstream alertmanager.
	bin := requireTool(t, "prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")
	amtool := requireTool(t, "prometheus-alertmanager", "amtool")
	path := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(path, config, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(amtool, "check-config", path).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	p := ps.add(newProc(dir, "alertmanager", bin,
		"--config.file="+path,
		"--storage.path="+filepath.Join(dir, "alertmanager-data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=", // a single instance: no gossip port
	))
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	waitFor(t, 60*time.Second, "Alertmanager to be ready", func() error {
		if err := p.ExitErr(); err != nil {
			return err
		}
		return getOK(base + "/-/ready")
	})
	return base
}

func getOK(u string) error {
	resp, err := httpClient.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

// promClient allows range queries over the whole run the time they take on
// a busy machine.
var promClient = &http.Client{Timeout: 30 * time.Second}

// promAPI queries Prometheus's HTTP API (/api/v1).
type promAPI struct{ base string }

// sample is one series of a query result: its labels and its values in
// time order (one for an instant query).
type sample struct {
	Metric map[string]string
	Values []float64
	Times  []float64 // Unix seconds of Values, for range queries
}

// finite reports whether any value is a number a panel can draw.
func (s sample) finite() bool {
	for _, v := range s.Values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			return true
		}
	}
	return false
}

func (s sample) last() float64 { return s.Values[len(s.Values)-1] }

type apiResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

func (p *promAPI) get(path string, params url.Values, data any) error {
	u := p.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	resp, err := promClient.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("GET %s: %s: %.200s", path, resp.Status, body)
	}
	if r.Status != "success" {
		return fmt.Errorf("GET %s %v: %s: %s", path, params, r.ErrorType, r.Error)
	}
	return json.Unmarshal(r.Data, data)
}

// query runs an instant query now.
func (p *promAPI) query(expr string) ([]sample, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &d); err != nil {
		return nil, err
	}
	switch d.ResultType {
	case "vector":
		var rs []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(d.Result, &rs); err != nil {
			return nil, err
		}
		out := make([]sample, 0, len(rs))
		for _, r := range rs {
			v, err := parseValue(r.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, sample{Metric: r.Metric, Values: []float64{v}})
		}
		return out, nil
	case "scalar":
		var r [2]any
		if err := json.Unmarshal(d.Result, &r); err != nil {
			return nil, err
		}
		v, err := parseValue(r)
		if err != nil {
			return nil, err
		}
		return []sample{{Values: []float64{v}}}, nil
	}
	return nil, fmt.Errorf("query %q: unexpected result type %q", expr, d.ResultType)
}

// queryRange runs a range query, as a Grafana graph or stat panel does over
// its time range.
func (p *promAPI) queryRange(expr string, start, end time.Time, step time.Duration) ([]sample, error) {
	var d struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	}
	params := url.Values{
		"query": {expr},
		"start": {strconv.FormatFloat(float64(start.UnixMilli())/1000, 'f', 3, 64)},
		"end":   {strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', 3, 64)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	if err := p.get("/api/v1/query_range", params, &d); err != nil {
		return nil, err
	}
	if d.ResultType != "matrix" {
		return nil, fmt.Errorf("query_range %q: unexpected result type %q", expr, d.ResultType)
	}
	out := make([]sample, 0, len(d.Result))
	for _, r := range d.Result {
		s := sample{Metric: r.Metric}
		for _, pt := range r.Values {
			v, err := parseValue(pt)
			if err != nil {
				return nil, err
			}
			ts, ok := pt[0].(float64)
			if !ok {
				return nil, fmt.Errorf("sample time %v is not a number", pt[0])
			}
			s.Values = append(s.Values, v)
			s.Times = append(s.Times, ts)
		}
		out = append(out, s)
	}
	return out, nil
}

// labelValues answers a Grafana label_values(selector, label) variable
// query the way Grafana's Prometheus data source does, through the series
// label values endpoint.
func (p *promAPI) labelValues(label, selector string, start, end time.Time) ([]string, error) {
	var vals []string
	params := url.Values{
		"match[]": {selector},
		"start":   {strconv.FormatInt(start.Unix(), 10)},
		"end":     {strconv.FormatInt(end.Unix(), 10)},
	}
	err := p.get("/api/v1/label/"+url.PathEscape(label)+"/values", params, &vals)
	return vals, err
}

// target is one entry of /api/v1/targets.
type target struct {
	Labels    map[string]string `json:"labels"`
	ScrapeURL string            `json:"scrapeUrl"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
}

func (p *promAPI) targets() ([]target, error) {
	var d struct {
		Active []target `json:"activeTargets"`
	}
	err := p.get("/api/v1/targets", url.Values{"state": {"active"}}, &d)
	return d.Active, err
}

func parseValue(pt [2]any) (float64, error) {
	s, ok := pt[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", pt[1])
	}
	return strconv.ParseFloat(s, 64)
}
