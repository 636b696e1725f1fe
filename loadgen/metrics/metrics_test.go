package metrics

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/raftline/raftline/telemetry/catalog"
)

// The names are a contract with the dashboards: the load generator serves
// exactly the metric catalogue's loadgen metrics (telemetry/catalog,
// docs/METRICS.md), with their types, labels and HELP text, besides the Go
// runtime and process collectors.
func TestServe_ExportsTheCatalogue(t *testing.T) {
	m, srv, err := Serve("127.0.0.1:0", "bench", "g1")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m.Sent()
	m.Acked(3 * time.Millisecond)
	m.Failed("NOT_LEADER_FOR_PARTITION")
	m.Consumed()
	m.EndToEnd(5 * time.Millisecond)
	m.Lag(42)
	m.CommittedLag(7)

	resp, err := http.Get("http://" + srv.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`loadgen_records_sent_total{topic="bench"} 1`,
		`loadgen_records_acked_total{topic="bench"} 1`,
		`loadgen_records_failed_total{kind="NOT_LEADER_FOR_PARTITION",topic="bench"} 1`,
		`loadgen_records_consumed_total{topic="bench"} 1`,
		`loadgen_publish_latency_seconds_sum{topic="bench"} 0.003`,
		`loadgen_e2e_latency_seconds_count{topic="bench"} 1`,
		`loadgen_consumer_lag_records{topic="bench"} 42`,
		`loadgen_consumer_group_committed_lag_records{group="g1",topic="bench"} 7`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.ByJob(catalog.LoadgenJob)
	for _, c := range cat {
		f := fams[c.Name]
		if f == nil {
			t.Errorf("/metrics lacks %s", c.Name)
			continue
		}
		if got := strings.ToLower(f.GetType().String()); got != string(c.Type) {
			t.Errorf("%s is a %s, the catalogue says %s", c.Name, got, c.Type)
		}
		if f.GetHelp() != c.Help {
			t.Errorf("%s has help text %q, the catalogue says %q", c.Name, f.GetHelp(), c.Help)
		}
		for _, s := range f.Metric {
			var names []string
			for _, l := range s.Label {
				names = append(names, l.GetName())
			}
			slices.Sort(names)
			if want := c.LabelNames(); !slices.Equal(names, want) {
				t.Errorf("%s has labels %v, the catalogue says %v", c.Name, names, want)
			}
		}
	}
	for name := range fams {
		if !slices.ContainsFunc(cat, func(m catalog.Metric) bool { return m.Name == name }) && !catalog.IsRuntime(name) {
			t.Errorf("/metrics has %s, which the metric catalogue does not list", name)
		}
	}
}
