package metrics

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The names are a contract with the dashboards (docs/METRICS.md).
func TestServe_ExportsDocumentedNames(t *testing.T) {
	m, srv, err := Serve("127.0.0.1:0", "bench")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m.Sent()
	m.Acked(3 * time.Millisecond)
	m.Failed("NOT_LEADER_FOR_PARTITION")
	m.Consumed()
	m.EndToEnd(5 * time.Millisecond)

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
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
