package observability

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/dashboards"
)

// The live consumer lag scenario's topic and group.
const (
	lagTopic      = "lagged"
	lagGroup      = "lag-live"
	lagPartitions = 3
	// lagBacklog records per partition are produced while the group does
	// not consume, stamped lagAge ago.
	lagBacklog = 20
	lagAge     = time.Hour
)

// TestConsumerLag_LiveGroupConsumer_LagInPrometheusDrainsToZero runs a
// real franz-go group consumer against three `raftline serve` processes
// scraped by a real Prometheus evaluating the committed rules. Caught up,
// the group's lag is 0 in every partition; records produced while it does
// not poll show up as lag in records (exactly what was produced, once per
// group-partition after the max over the three nodes that all export it)
// and in seconds (the records' hour-old timestamps); consuming and
// committing them brings both back to 0. A second member joining is a
// rebalance. Every dashboard panel that reads consumer group metrics then
// has data, and the group variable offers the group.
func TestConsumerLag_LiveGroupConsumer_LagInPrometheusDrainsToZero(t *testing.T) {
	start := time.Now()
	dir := t.TempDir()
	ps := newProcs(t)
	ports := clustertest.FreePorts(t, 10)
	c := startCluster(t, ps, dir, ports[:9])
	prom := c.startPrometheus(t, ps, dir, hostPort(ports[9]))

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddrs()...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	adm := kadm.NewClient(producer)
	waitFor(t, 30*time.Second, "topic "+lagTopic+" to be created", func() error {
		resp, err := adm.CreateTopic(ctx, lagPartitions, -1, nil, lagTopic)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
	produce := func(perPartition int, ts time.Time) {
		t.Helper()
		var rs []*kgo.Record
		for i := range perPartition * lagPartitions {
			rs = append(rs, &kgo.Record{Topic: lagTopic, Partition: int32(i % lagPartitions), Value: []byte(fmt.Sprint("record-", i)), Timestamp: ts})
		}
		if err := producer.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	consumer := newGroupConsumer(t, c.kafkaAddrs())
	// consume polls until n more records arrived, then commits them.
	consume := func(cl *kgo.Client, n int) {
		t.Helper()
		got := 0
		for got < n {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of %d records: %v", got, n, ctx.Err())
			}
			fs.EachError(func(topic string, p int32, err error) {
				// An error of no partition is the group session's: the
				// member cannot join, which no wait cures.
				if topic == "" {
					t.Fatalf("group consumer: %v", err)
				}
				t.Logf("fetch %s/%d: %v", topic, p, err)
			})
			got += fs.NumRecords()
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}

	// Caught up: a lag series at 0 for every partition.
	produce(10, time.Now())
	consume(consumer, 10*lagPartitions)
	lag := `max by (group, topic, partition) (raftline_consumer_group_lag{job="raftline", group="` + lagGroup + `"})`
	waitForPartitions(t, prom, "the caught-up group's lag at 0", lag, func(v float64) bool { return v == 0 })
	waitForPartitions(t, prom, "the committed offsets at 10",
		`max by (group, topic, partition) (raftline_consumer_group_committed_offset{job="raftline", group="`+lagGroup+`"})`,
		func(v float64) bool { return v == 10 })

	// Records the group does not consume yet, stamped an hour ago.
	produced := time.Now()
	produce(lagBacklog, produced.Add(-lagAge))
	waitForPartitions(t, prom, "the backlog as lag in records", lag, func(v float64) bool { return v == lagBacklog })
	maxAge := func(v float64) bool {
		// Now minus the records' timestamp, as of a scrape after they
		// were produced.
		return v >= lagAge.Seconds() && v <= (lagAge+time.Since(produced)+5*time.Second).Seconds()
	}
	waitForPartitions(t, prom, "the backlog's age as lag in seconds",
		`max by (group, topic, partition) (raftline_consumer_group_lag_seconds{job="raftline", group="`+lagGroup+`"})`, maxAge)
	// Every node exports the group, and the rules count it once.
	waitFor(t, 30*time.Second, "every node to export the group's lag", func() error {
		return atLeast(prom, `count(count by (node_id) (raftline_consumer_group_lag{job="raftline", group="`+lagGroup+`"}))`, 3)
	})
	waitFor(t, 30*time.Second, "the recorded group lag to count each partition once", func() error {
		return exactly(prom, `job_group:raftline_consumer_group_lag:sum{group="`+lagGroup+`"}`, lagBacklog*lagPartitions)
	})
	waitFor(t, 30*time.Second, "the group stable with one member", func() error {
		if err := exactly(prom, `max(raftline_consumer_group_members{job="raftline", group="`+lagGroup+`"})`, 1); err != nil {
			return err
		}
		return exactly(prom, `max(raftline_consumer_group_state{job="raftline", group="`+lagGroup+`", state="Stable"})`, 1)
	})

	// Consumed and committed: both lags back to 0.
	consume(consumer, lagBacklog*lagPartitions)
	waitForPartitions(t, prom, "the lag drained to 0 records", lag, func(v float64) bool { return v == 0 })
	waitForPartitions(t, prom, "the lag drained to 0 seconds",
		`max by (group, topic, partition) (raftline_consumer_group_lag_seconds{job="raftline", group="`+lagGroup+`"})`,
		func(v float64) bool { return v == 0 })
	t.Logf("lag appeared and drained in Prometheus within %v", time.Since(produced).Round(time.Second))

	// A second member joins: a rebalance, two members.
	generation, err := prom.query(`max(raftline_consumer_group_rebalances_total{job="raftline", group="` + lagGroup + `"})`)
	if err != nil || len(generation) != 1 {
		t.Fatalf("rebalances before the second member: %v %v", generation, err)
	}
	second := newGroupConsumer(t, c.kafkaAddrs())
	waitFor(t, 60*time.Second, "the second member's rebalance in Prometheus", func() error {
		second.PollFetches(pollCtx(ctx)) // lets it take its share
		if err := exactly(prom, `max(raftline_consumer_group_members{job="raftline", group="`+lagGroup+`"})`, 2); err != nil {
			return err
		}
		return atLeast(prom, `max(raftline_consumer_group_rebalances_total{job="raftline", group="`+lagGroup+`"})`, generation[0].last()+1)
	})

	// Every panel reading consumer group metrics has something to draw.
	var checked int
	for _, q := range panelQueries(t) {
		if !strings.Contains(q.expr, "raftline_consumer_group_") {
			continue
		}
		checked++
		waitFor(t, 30*time.Second, "data for "+q.where, func() error {
			ss, err := prom.queryRange(q.expr, start, time.Now(), time.Second)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(ss, sample.finite) {
				return fmt.Errorf("no finite value (%d series): %s", len(ss), q.expr)
			}
			return nil
		})
	}
	if checked < 10 {
		t.Errorf("only %d panel queries read consumer group metrics", checked)
	}
	t.Logf("%d consumer group panel queries returned data", checked)
	for _, v := range queryVariables(t) {
		if v.name != "group" {
			continue
		}
		m := labelValuesQuery.FindStringSubmatch(v.query)
		if m == nil {
			t.Fatalf("%s: group variable query %q", v.dashboard, v.query)
		}
		sel, err := dashboards.Expand(m[1], dashboards.DefaultVars())
		if err != nil {
			t.Fatal(err)
		}
		vals, err := prom.labelValues(m[2], sel, start, time.Now())
		if err != nil || !slices.Contains(vals, lagGroup) {
			t.Errorf("%s: group variable offers %v (%v), want %s among them", v.dashboard, vals, err, lagGroup)
		}
	}
}

// newGroupConsumer is a franz-go member of lagGroup reading lagTopic from
// the start, committing only when told.
func newGroupConsumer(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(lagGroup),
		kgo.ConsumeTopics(lagTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// pollCtx bounds one poll of a member that has nothing to read.
func pollCtx(parent context.Context) context.Context {
	ctx, cancel := context.WithTimeout(parent, time.Second)
	context.AfterFunc(ctx, cancel)
	return ctx
}

// waitForPartitions waits until expr has one series per partition of
// lagTopic and each one's value satisfies ok.
func waitForPartitions(t *testing.T, prom *promAPI, what, expr string, ok func(float64) bool) {
	t.Helper()
	waitFor(t, 60*time.Second, what, func() error {
		ss, err := prom.query(expr)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, s := range ss {
			if s.Metric["topic"] != lagTopic {
				continue
			}
			if !ok(s.last()) {
				return fmt.Errorf("%s: %v", expr, ss)
			}
			seen[s.Metric["partition"]] = true
		}
		if len(seen) != lagPartitions {
			return fmt.Errorf("%s: %d of %d partitions: %v", expr, len(seen), lagPartitions, ss)
		}
		return nil
	})
}

// exactly checks that expr has one series now, equal to want.
func exactly(prom *promAPI, expr string, want float64) error {
	ss, err := prom.query(expr)
	if err != nil {
		return err
	}
	if len(ss) != 1 || math.Abs(ss[0].last()-want) > 1e-9 {
		return fmt.Errorf("%s = %v, want one series at %v", expr, ss, want)
	}
	return nil
}
