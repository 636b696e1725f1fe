package brokermetrics

import (
	"slices"
	"testing"

	"github.com/raftline/raftline/broker/kafka"
	"github.com/raftline/raftline/telemetry/catalog"
)

// The label values the listener reports are the ones the catalogue lists,
// both ways: a reason the catalogue lacks fails the live contract test, one
// it lists that the listener never reports would be a dashboard series that
// never moves.
func TestLabelValues_ListenerReportsExactlyTheCatalogued(t *testing.T) {
	for _, tc := range []struct {
		metric, label string
		values        []string
	}{
		{"raftline_kafka_rejected_requests_total", "reason", kafka.Reasons()},
		{"raftline_kafka_budget_waits_total", "scope", kafka.BudgetScopes()},
	} {
		m, ok := catalog.Lookup(tc.metric)
		if !ok {
			t.Fatalf("%s is not in the catalogue", tc.metric)
		}
		var want []string
		for _, l := range m.Labels {
			if l.Name == tc.label {
				want = slices.Sorted(slices.Values(l.Values))
			}
		}
		if got := slices.Sorted(slices.Values(tc.values)); !slices.Equal(got, want) {
			t.Errorf("%s{%s}: the listener reports %v, the catalogue lists %v", tc.metric, tc.label, got, want)
		}
	}
}
