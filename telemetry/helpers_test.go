package telemetry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/httpapi"
	"github.com/raftline/raftline/broker/server"
	"github.com/raftline/raftline/telemetry"
)

// startCluster starts a cluster whose nodes each have their own telemetry,
// built by mk (nil: metrics only, no tracing).
func startCluster(t *testing.T, nodes int, mk func(id int32) telemetry.Config) (*clustertest.Cluster, map[int32]*telemetry.Telemetry) {
	t.Helper()
	return startClusterWith(t, nodes, mk, nil)
}

// startClusterWith is startCluster with each node's configuration adjusted
// by configure (when set) before its telemetry is attached.
func startClusterWith(t *testing.T, nodes int, mk func(id int32) telemetry.Config, configure func(*server.Config)) (*clustertest.Cluster, map[int32]*telemetry.Telemetry) {
	t.Helper()
	tels := map[int32]*telemetry.Telemetry{}
	c := clustertest.Start(t, clustertest.Options{Nodes: nodes, Configure: func(cfg *server.Config) {
		if configure != nil {
			configure(cfg)
		}
		tc := telemetry.Config{NodeID: cfg.NodeID, Version: "test"}
		if mk != nil {
			tc = mk(cfg.NodeID)
		}
		tel, err := telemetry.New(tc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tel.Shutdown(ctx)
		})
		tel.Configure(cfg)
		tels[cfg.NodeID] = tel
	}})
	return c, tels
}

// scrape fetches and parses a node's /metrics with the Prometheus text parser.
func scrape(t testing.TB, n *clustertest.Node) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + n.Cfg.HTTPAddr + "/metrics")
	if err != nil {
		t.Fatalf("scrape node %d: %v", n.ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape node %d: %s: %s", n.ID, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse node %d's metrics: %v", n.ID, err)
	}
	return fams
}

// value sums the samples of a family whose labels include want (counter,
// gauge or histogram count).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.Metric {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.Label {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.Label {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func nodeLabel(n *clustertest.Node) map[string]string {
	return map[string]string{"node_id": strconv.Itoa(int(n.ID))}
}

func clusterView(t testing.TB, n *clustertest.Node) httpapi.ClusterView {
	t.Helper()
	resp, err := http.Get("http://" + n.Cfg.HTTPAddr + "/v1/cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v httpapi.ClusterView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func describe(fams map[string]*dto.MetricFamily) string {
	s := ""
	for name, f := range fams {
		s += fmt.Sprintf("%s %s %d\n", name, f.GetType(), len(f.Metric))
	}
	return s
}
