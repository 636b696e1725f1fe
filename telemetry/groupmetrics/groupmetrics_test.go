package groupmetrics

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/cluster/clusterfake"
	"github.com/raftline/raftline/broker/recordbatch/batchtest"
	"github.com/raftline/raftline/telemetry/catalog"
)

// groupsOn is a node's replicated state with the consumer groups the group
// coordinator would have applied: the partitions are the real state
// machine's (clusterfake runs raftcluster's read and write paths), the
// groups are the read model's values, set by the test.
type groupsOn struct {
	*clusterfake.Cluster
	mu     sync.Mutex
	groups []cluster.ConsumerGroup
}

func (g *groupsOn) ConsumerGroups() []cluster.ConsumerGroup {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.groups)
}

func (g *groupsOn) set(gs ...cluster.ConsumerGroup) {
	g.mu.Lock()
	g.groups = gs
	g.mu.Unlock()
}

// produce appends one batch per call of n records stamped from ts (ms).
func produce(t *testing.T, c *clusterfake.Cluster, topic string, partition int32, ts int64, n int) {
	t.Helper()
	vals := make([]string, n)
	for i := range vals {
		vals[i] = fmt.Sprint("v", i)
	}
	res, err := c.Produce(topic, partition, [][]byte{batchtest.Plain(ts, vals...)}, nil).Result()
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("produce to %s/%d: %v", topic, partition, err)
	}
}

func createTopic(t *testing.T, c *clusterfake.Cluster, name string, partitions int32) {
	t.Helper()
	if err := c.CreateTopic(context.Background(), cluster.TopicSpec{Name: name, Partitions: partitions, Configs: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
}

// collected is one collection: for each metric, its series by their
// labels rendered k=v,... in name order.
type collected map[string]map[string]float64

func collect(t *testing.T, r *sdkmetric.ManualReader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := collected{}
	enc := attribute.DefaultEncoder()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			series := map[string]float64{}
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					series[p.Attributes.Encoded(enc)] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					series[p.Attributes.Encoded(enc)] = p.Value
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					series[p.Attributes.Encoded(enc)] = float64(p.Value)
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
			out[m.Name] = series
		}
	}
	return out
}

// labels renders labels the way attribute.DefaultEncoder does: sorted by
// key, k=v joined by commas.
func labels(kv ...string) string {
	var parts []string
	for i := 0; i < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+kv[i+1])
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func part(group, topic, p string) string {
	return labels("group", group, "partition", p, "topic", topic)
}

func (c collected) want(t *testing.T, metric, series string, v float64) {
	t.Helper()
	got, ok := c[metric][series]
	if !ok {
		t.Errorf("%s{%s} missing; has %v", metric, series, c[metric])
		return
	}
	if got != v {
		t.Errorf("%s{%s} = %v, want %v", metric, series, got, v)
	}
}

func (c collected) absent(t *testing.T, metric, series string) {
	t.Helper()
	if v, ok := c[metric][series]; ok {
		t.Errorf("%s{%s} = %v, want no series", metric, series, v)
	}
}

func newMetrics(t *testing.T, o Options) (*Metrics, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r), sdkmetric.WithCardinalityLimit(0))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	m, err := New(mp.Meter("test"), o)
	if err != nil {
		t.Fatal(err)
	}
	return m, r
}

// A group's lag in records is the high watermark minus its committed offset
// and, in seconds, the age of the batch holding that offset; caught up, both
// are 0. A group whose offset retention passed reads its age from the log
// start; an offset in a deleted topic, or Kafka's -1, exports nothing. The
// per-group series carry members, the state (1 for the current, 0 for the
// other four), the generation and the commits.
func TestCollect_LagCommittedAndGroupState(t *testing.T) {
	base := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	now := base.Add(90 * time.Second)
	src := &groupsOn{Cluster: clusterfake.New(1)}
	createTopic(t, src.Cluster, "orders", 3)
	createTopic(t, src.Cluster, "gone", 1)
	// orders/0: offsets 0-9 stamped base, 10-19 base+30s.
	produce(t, src.Cluster, "orders", 0, base.UnixMilli(), 10)
	produce(t, src.Cluster, "orders", 0, base.Add(30*time.Second).UnixMilli(), 10)
	// orders/1: 5 records, consumed.
	produce(t, src.Cluster, "orders", 1, base.UnixMilli(), 5)
	// orders/2: 0-9 at base, 10-14 at base+60s; 0-9 deleted below.
	produce(t, src.Cluster, "orders", 2, base.UnixMilli(), 10)
	produce(t, src.Cluster, "orders", 2, base.Add(60*time.Second).UnixMilli(), 5)
	if _, err := src.DeleteRecords(context.Background(), []cluster.RecordsDeletion{{Topic: "orders", Partition: 2, Offset: 10}}); err != nil {
		t.Fatal(err)
	}
	produce(t, src.Cluster, "gone", 0, base.UnixMilli(), 3)

	src.set(
		cluster.ConsumerGroup{Name: "billing", State: "Stable", ProtocolType: "consumer", Generation: 4, Members: 2, Commits: 17,
			Offsets: []cluster.CommittedOffset{
				{Topic: "gone", Partition: 0, Offset: 1},
				{Topic: "orders", Partition: 0, Offset: 12}, // inside the second batch
				{Topic: "orders", Partition: 1, Offset: 5},  // caught up
				{Topic: "orders", Partition: 2, Offset: 3},  // below the log start (10)
			}},
		cluster.ConsumerGroup{Name: "audit", State: "Empty", ProtocolType: "consumer", Generation: 1, Members: 0, Commits: 1,
			Offsets: []cluster.CommittedOffset{
				{Topic: "orders", Partition: 0, Offset: -1},
				{Topic: "orders", Partition: 1, Offset: 0},
			}},
	)
	if err := src.DeleteTopic(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	m, r := newMetrics(t, Options{Now: func() time.Time { return now }})
	m.Attach(src)
	c := collect(t, r)

	c.want(t, "raftline_consumer_group_lag", part("billing", "orders", "0"), 8)
	c.want(t, "raftline_consumer_group_committed_offset", part("billing", "orders", "0"), 12)
	c.want(t, "raftline_consumer_group_lag_seconds", part("billing", "orders", "0"), 60) // batch stamped base+30s
	c.want(t, "raftline_consumer_group_lag", part("billing", "orders", "1"), 0)
	c.want(t, "raftline_consumer_group_lag_seconds", part("billing", "orders", "1"), 0)
	c.want(t, "raftline_consumer_group_lag", part("billing", "orders", "2"), 12)
	c.want(t, "raftline_consumer_group_lag_seconds", part("billing", "orders", "2"), 30) // log start's batch, base+60s
	c.want(t, "raftline_consumer_group_lag", part("audit", "orders", "1"), 5)
	c.want(t, "raftline_consumer_group_lag_seconds", part("audit", "orders", "1"), 90)
	for _, metric := range []string{"raftline_consumer_group_lag", "raftline_consumer_group_lag_seconds", "raftline_consumer_group_committed_offset"} {
		c.absent(t, metric, part("billing", "gone", "0"))
		c.absent(t, metric, part("audit", "orders", "0"))
		if n := len(c[metric]); n != 4 {
			t.Errorf("%s has %d series, want 4: %v", metric, n, c[metric])
		}
	}

	c.want(t, "raftline_consumer_group_members", labels("group", "billing"), 2)
	c.want(t, "raftline_consumer_group_members", labels("group", "audit"), 0)
	c.want(t, "raftline_consumer_group_rebalances_total", labels("group", "billing"), 4)
	c.want(t, "raftline_consumer_group_offset_commits_total", labels("group", "billing"), 17)
	for _, s := range States {
		want := 0.0
		if s == "Stable" {
			want = 1
		}
		c.want(t, "raftline_consumer_group_state", labels("group", "billing", "state", s), want)
	}
	c.want(t, "raftline_consumer_group_state", labels("group", "audit", "state", "Empty"), 1)
	c.want(t, "raftline_consumer_group_series_dropped_total", "", 0)

	// The group commits the high watermark: caught up. A group deleted
	// since the last scrape leaves no series behind.
	src.set(cluster.ConsumerGroup{Name: "billing", State: "PreparingRebalance", Generation: 5, Members: 3, Commits: 18,
		Offsets: []cluster.CommittedOffset{{Topic: "orders", Partition: 0, Offset: 20}}})
	now = now.Add(time.Minute)
	c = collect(t, r)
	c.want(t, "raftline_consumer_group_lag", part("billing", "orders", "0"), 0)
	c.want(t, "raftline_consumer_group_lag_seconds", part("billing", "orders", "0"), 0)
	c.want(t, "raftline_consumer_group_state", labels("group", "billing", "state", "PreparingRebalance"), 1)
	c.want(t, "raftline_consumer_group_state", labels("group", "billing", "state", "Stable"), 0)
	c.want(t, "raftline_consumer_group_rebalances_total", labels("group", "billing"), 5)
	c.absent(t, "raftline_consumer_group_members", labels("group", "audit"))
	c.absent(t, "raftline_consumer_group_lag", part("audit", "orders", "1"))
	c.absent(t, "raftline_consumer_group_lag", part("billing", "orders", "2"))

	// A stuck consumer's lag in seconds keeps growing with the clock.
	src.set(cluster.ConsumerGroup{Name: "billing", State: "Stable", Generation: 5, Members: 3, Commits: 19,
		Offsets: []cluster.CommittedOffset{{Topic: "orders", Partition: 0, Offset: 3}}})
	c = collect(t, r)
	first := c["raftline_consumer_group_lag_seconds"][part("billing", "orders", "0")]
	now = now.Add(10 * time.Second)
	c = collect(t, r)
	c.want(t, "raftline_consumer_group_lag_seconds", part("billing", "orders", "0"), first+10)
	c.want(t, "raftline_consumer_group_lag", part("billing", "orders", "0"), 17)
}

// Over the cap, a scrape exports the group-partitions with the largest lag,
// ties broken by group, topic and partition, and counts the others in
// raftline_consumer_group_series_dropped_total at every scrape; the
// per-group series are not capped.
func TestCollect_OverTheCapKeepsTheLargestLags(t *testing.T) {
	src := &groupsOn{Cluster: clusterfake.New(1)}
	createTopic(t, src.Cluster, "t", 4)
	for p := range int32(4) {
		produce(t, src.Cluster, "t", p, time.Now().UnixMilli(), 10)
	}
	src.set(
		cluster.ConsumerGroup{Name: "a", State: "Stable", Members: 1, Offsets: []cluster.CommittedOffset{
			{Topic: "t", Partition: 0, Offset: 10}, // lag 0
			{Topic: "t", Partition: 1, Offset: 2},  // lag 8
			{Topic: "t", Partition: 2, Offset: 5},  // lag 5
		}},
		cluster.ConsumerGroup{Name: "b", State: "Stable", Members: 1, Offsets: []cluster.CommittedOffset{
			{Topic: "t", Partition: 3, Offset: 5}, // lag 5, after a/t/2 by name
		}},
	)
	m, r := newMetrics(t, Options{MaxSeries: 2})
	m.Attach(src)
	for scrape := 1; scrape <= 2; scrape++ {
		c := collect(t, r)
		for _, metric := range []string{"raftline_consumer_group_lag", "raftline_consumer_group_lag_seconds", "raftline_consumer_group_committed_offset"} {
			got := slices.Sorted(func(yield func(string) bool) {
				for k := range c[metric] {
					if !yield(k) {
						return
					}
				}
			})
			want := []string{part("a", "t", "1"), part("a", "t", "2")}
			if !slices.Equal(got, want) {
				t.Errorf("scrape %d: %s series %v, want %v", scrape, metric, got, want)
			}
		}
		c.want(t, "raftline_consumer_group_series_dropped_total", "", float64(2*scrape))
		c.want(t, "raftline_consumer_group_members", labels("group", "b"), 1)
	}
}

// Before the node runs there is no state to read: only the dropped counter
// is exported, at 0, so rate() has a series from the start.
func TestCollect_Detached(t *testing.T) {
	_, r := newMetrics(t, Options{})
	c := collect(t, r)
	c.want(t, "raftline_consumer_group_series_dropped_total", "", 0)
	if len(c["raftline_consumer_group_lag"]) != 0 || len(c["raftline_consumer_group_members"]) != 0 {
		t.Errorf("series without a node: %v", c)
	}
}

// Every metric the package registers is in the catalogue with the labels
// it exports, and the state label's values are the catalogue's.
func TestCatalogue_ListsWhatIsExported(t *testing.T) {
	want := map[string][]string{
		"raftline_consumer_group_lag":                  {"group", "node_id", "partition", "topic"},
		"raftline_consumer_group_lag_seconds":          {"group", "node_id", "partition", "topic"},
		"raftline_consumer_group_committed_offset":     {"group", "node_id", "partition", "topic"},
		"raftline_consumer_group_members":              {"group", "node_id"},
		"raftline_consumer_group_state":                {"group", "node_id", "state"},
		"raftline_consumer_group_rebalances_total":     {"group", "node_id"},
		"raftline_consumer_group_offset_commits_total": {"group", "node_id"},
		"raftline_consumer_group_series_dropped_total": {"node_id"},
	}
	for name, labels := range want {
		m, ok := catalog.Lookup(name)
		if !ok {
			t.Errorf("%s is not in the catalogue", name)
			continue
		}
		if got := m.LabelNames(); !slices.Equal(got, labels) {
			t.Errorf("%s: catalogue labels %v, exported %v", name, got, labels)
		}
		for _, l := range m.Labels {
			if l.Name == "state" && !slices.Equal(slices.Sorted(slices.Values(l.Values)), slices.Sorted(slices.Values(States))) {
				t.Errorf("%s: catalogue states %v, exported %v", name, l.Values, States)
			}
		}
	}
}
