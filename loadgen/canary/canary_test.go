package canary

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/telemetry/catalog"
)

func scrape(t *testing.T, addr string) (map[string]*dto.MetricFamily, error) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	return p.TextToMetricFamilies(resp.Body)
}

// value is the counter of name with result, or a histogram's count.
func value(fams map[string]*dto.MetricFamily, name, result string) float64 {
	var sum float64
	for _, m := range fams[name].GetMetric() {
		ok := result == ""
		for _, l := range m.GetLabel() {
			ok = ok || (l.GetName() == "result" && l.GetValue() == result)
		}
		if !ok {
			continue
		}
		sum += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return sum
}

// The canary against a real 3-node cluster: every probe acknowledged and
// read back, with both latencies observed, its /metrics exactly the
// catalogue's canary section; then, with two of the three nodes killed (no
// quorum), its probes fail, which is what it is there to see.
func TestCanary_RealCluster(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3})
	m, srv, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := Config{Brokers: c.KafkaAddrs(), Topic: "canary", Rate: 20, Timeout: 3 * time.Second}
	cn, err := New(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(clustertest.Ctx(t))
	done := make(chan error, 1)
	go func() { done <- cn.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	const probes = 40
	clustertest.Wait(t, 60*time.Second, fmt.Sprintf("%d probes acknowledged and read back", probes), func() error {
		fams, err := scrape(t, srv.Addr)
		if err != nil {
			return err
		}
		acked, read := value(fams, "loadgen_canary_produced_total", ResultSuccess), value(fams, "loadgen_canary_consumed_total", ResultSuccess)
		if acked < probes || read < probes {
			return fmt.Errorf("%v acknowledged, %v read back", acked, read)
		}
		return nil
	})
	fams, err := scrape(t, srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	for name, result := range map[string]string{
		"loadgen_canary_produced_total": ResultFailure,
		"loadgen_canary_consumed_total": ResultTimeout,
	} {
		if v := value(fams, name, result); v != 0 {
			t.Errorf("%s{result=%q} = %v on a healthy cluster", name, result, v)
		}
	}
	acked, read := value(fams, "loadgen_canary_produced_total", ResultSuccess), value(fams, "loadgen_canary_consumed_total", ResultSuccess)
	if n := value(fams, "loadgen_canary_publish_latency_seconds", ""); n != acked {
		t.Errorf("publish latency observed %v times, %v acknowledged", n, acked)
	}
	if n := value(fams, "loadgen_canary_e2e_latency_seconds", ""); n != read {
		t.Errorf("end-to-end latency observed %v times, %v read back", n, read)
	}

	// Exactly the catalogue: names, types, HELP, labels and their values.
	cat := catalog.ByJob(catalog.CanaryJob)
	for _, d := range cat {
		f := fams[d.Name]
		if f == nil {
			t.Errorf("%s missing", d.Name)
			continue
		}
		if got := strings.ToLower(f.GetType().String()); got != string(d.Type) || f.GetHelp() != d.Help {
			t.Errorf("%s: %s %q, the catalogue says %s %q", d.Name, got, f.GetHelp(), d.Type, d.Help)
		}
		var values []string
		for _, mm := range f.GetMetric() {
			var names []string
			for _, l := range mm.GetLabel() {
				names = append(names, l.GetName())
				if l.GetName() == "result" {
					values = append(values, l.GetValue())
				}
			}
			if want := d.LabelNames(); !slices.Equal(names, want) && !(len(names) == 0 && len(want) == 0) {
				t.Errorf("%s: labels %v, the catalogue says %v", d.Name, names, want)
			}
		}
		for _, l := range d.Labels {
			sort.Strings(values)
			want := slices.Sorted(slices.Values(l.Values))
			if !slices.Equal(values, want) {
				t.Errorf("%s: results %v exported, the catalogue lists %v", d.Name, values, want)
			}
		}
	}
	for name := range fams {
		if _, ok := catalog.Lookup(name); !ok && !catalog.IsRuntime(name) {
			t.Errorf("exports %s, which the catalogue does not list", name)
		}
	}

	// No quorum: produces are not acknowledged within the timeout.
	for _, n := range c.Followers() {
		c.Kill(n)
	}
	clustertest.Wait(t, 60*time.Second, "the canary to count failed probes without a quorum", func() error {
		fams, err := scrape(t, srv.Addr)
		if err != nil {
			return err
		}
		if v := value(fams, "loadgen_canary_produced_total", ResultFailure); v == 0 {
			return fmt.Errorf("no failure counted yet (%v acknowledged)", value(fams, "loadgen_canary_produced_total", ResultSuccess))
		}
		return nil
	})
}
