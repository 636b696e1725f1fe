// Package groupmetrics exports consumer groups as the raftline_consumer_group_*
// metrics of docs/METRICS.md: per group its members, state, rebalances
// (the generation) and offset commits; per group and partition its
// committed offset, its lag in records (high watermark - committed offset)
// and in seconds (the age of the oldest record it has not consumed).
//
// Everything is read at scrape time from the replicated state as this node
// holds it (View.ConsumerGroups and the partitions' offsets), so lag needs
// no exporter polling the brokers, and every node exports the same series:
// node_id tells them apart, and dashboards and alerts take the max over
// nodes, so one node down or behind does not leave a gap and three nodes do
// not triple the lag (DESIGN.md).
//
// Per-partition series are bounded: groups x partitions can be large. A
// scrape exports the MaxSeries group-partitions with the largest lag (ties
// by group, topic, partition) and counts the rest in
// raftline_consumer_group_series_dropped_total; the per-group series are
// always exported.
package groupmetrics

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/cluster/raftcluster"
	"github.com/raftline/raftline/broker/recordbatch"
	"github.com/raftline/raftline/telemetry/internal/instr"
)

// DefaultMaxSeries is the default cap on exported group-partitions
// (`raftline serve --consumer-lag-max-series`): each is three series (lag,
// lag seconds, committed offset), so 30000 series at most, about what one
// Prometheus takes from a broker without noticing.
const DefaultMaxSeries = 10000

// States are Kafka's consumer group states, each exported as
// raftline_consumer_group_state{state} (1 for the group's, 0 for the others).
var States = []string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

// Source is what the gauges read: the replicated state as one node holds
// it. *raftcluster.Cluster is one.
type Source interface {
	ConsumerGroups() []cluster.ConsumerGroup
	Partition(topic string, partition int32) (cluster.Partition, error)
}

var _ Source = (*raftcluster.Cluster)(nil)

// Metrics holds one node's consumer group instruments.
type Metrics struct {
	maxSeries int
	now       func() time.Time

	mu  sync.Mutex
	src Source

	// collect is the callback's own state, guarded by collectMu: scrapes
	// may run concurrently.
	collectMu sync.Mutex
	// stamps remembers the timestamp read at each group-partition's
	// committed offset, so a partition is read again only when its group
	// commits a new offset. Rebuilt at every scrape: what a scrape did not
	// see is forgotten.
	stamps map[pairKey]stamp
	// opts are the attribute sets of the group-partitions exported at the
	// last scrape, and groupOpts of the groups; rebuilt likewise, so
	// deleted groups do not pile up.
	opts      map[pairKey]instr.Opt
	groupOpts map[string]groupOpt
	buf       []byte // the batch last read for a timestamp

	dropped atomic.Int64
}

type pairKey struct {
	group, topic string
	partition    int32
}

// stamp is the first timestamp of the batch holding offset, in ms; ok is
// false when the batch carries none (-1).
type stamp struct {
	offset int64
	ms     int64
	ok     bool
}

type groupOpt struct {
	group  instr.Opt
	states []instr.Opt // parallel to States
	other  map[string]instr.Opt
}

// Options configure the metrics.
type Options struct {
	// MaxSeries caps the group-partitions exported per scrape;
	// 0 is DefaultMaxSeries.
	MaxSeries int
	// Now is the clock lag seconds are measured with; nil is time.Now.
	Now func() time.Time
}

// New creates the instruments on meter.
func New(meter metric.Meter, o Options) (*Metrics, error) {
	if o.MaxSeries == 0 {
		o.MaxSeries = DefaultMaxSeries
	}
	if o.MaxSeries < 0 {
		return nil, errors.New("groupmetrics: MaxSeries must not be negative")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Metrics{maxSeries: o.MaxSeries, now: o.Now}
	reg := &instr.Registrar{Meter: meter}
	gauge := reg.Gauge
	lag := gauge("raftline_consumer_group_lag",
		"Records each consumer group has yet to consume in each partition it committed an offset for: the partition's high watermark minus the committed offset (0 when caught up).")
	lagSec := reg.SecondsGauge("raftline_consumer_group_lag_seconds",
		"Age of the oldest record each consumer group has yet to consume in each partition: now minus the first timestamp of the batch holding the committed offset (0 when caught up).")
	committed := gauge("raftline_consumer_group_committed_offset",
		"Offset each consumer group last committed for each partition: the next record it will consume.")
	members := gauge("raftline_consumer_group_members", "Members of each consumer group.")
	state := gauge("raftline_consumer_group_state",
		"1 for each consumer group's current state (Empty, PreparingRebalance, CompletingRebalance, Stable, Dead), 0 for the others.")
	if reg.Err != nil {
		return nil, reg.Err
	}
	rebalances, err := meter.Int64ObservableCounter("raftline_consumer_group_rebalances_total",
		metric.WithDescription("Rebalances of each consumer group: its generation, which every completed join round raises."))
	if err != nil {
		return nil, err
	}
	commits, err := meter.Int64ObservableCounter("raftline_consumer_group_offset_commits_total",
		metric.WithDescription("Offset commits applied for each consumer group."))
	if err != nil {
		return nil, err
	}
	dropped, err := meter.Int64ObservableCounter("raftline_consumer_group_series_dropped_total",
		metric.WithDescription("Consumer group partitions left out of a scrape's per-partition series (lag, lag seconds, committed offset) because more than --consumer-lag-max-series had committed offsets; those with the smallest lag are left out."))
	if err != nil {
		return nil, err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		m.mu.Lock()
		src := m.src
		m.mu.Unlock()
		if src != nil {
			m.collect(src, o, instruments{lag, lagSec, committed, members, state, rebalances, commits})
		}
		o.ObserveInt64(dropped, m.dropped.Load())
		return nil
	}, lag, lagSec, committed, members, state, rebalances, commits, dropped)
	if err != nil {
		return nil, err
	}
	return m, nil
}

type instruments struct {
	lag        metric.Int64ObservableGauge
	lagSec     metric.Float64ObservableGauge
	committed  metric.Int64ObservableGauge
	members    metric.Int64ObservableGauge
	state      metric.Int64ObservableGauge
	rebalances metric.Int64ObservableCounter
	commits    metric.Int64ObservableCounter
}

// Attach points the gauges at a running node's state (again after a
// restart); nil lets go of it.
func (m *Metrics) Attach(src Source) {
	m.mu.Lock()
	m.src = src
	m.mu.Unlock()
}

// pair is one group's committed offset in one partition, as a scrape
// reads it.
type pair struct {
	key       pairKey
	committed int64
	lag       int64
	part      cluster.Partition
	start     int64
}

func (m *Metrics) collect(src Source, o metric.Observer, in instruments) {
	m.collectMu.Lock()
	defer m.collectMu.Unlock()
	groups := src.ConsumerGroups()
	groupOpts := make(map[string]groupOpt, len(groups))
	var pairs []pair
	for _, g := range groups {
		gopt, ok := m.groupOpts[g.Name]
		if !ok {
			gopt = newGroupOpt(g.Name)
		}
		groupOpts[g.Name] = gopt
		o.ObserveInt64(in.members, int64(g.Members), gopt.group.Obs...)
		o.ObserveInt64(in.rebalances, int64(max(g.Generation, 0)), gopt.group.Obs...)
		o.ObserveInt64(in.commits, g.Commits, gopt.group.Obs...)
		known := false
		for i, s := range States {
			v := int64(0)
			if s == g.State {
				v, known = 1, true
			}
			o.ObserveInt64(in.state, v, gopt.states[i].Obs...)
		}
		if !known && g.State != "" {
			so, ok := gopt.other[g.State]
			if !ok {
				so = instr.NewOpt(attribute.String("group", g.Name), attribute.String("state", g.State))
				gopt.other[g.State] = so
			}
			o.ObserveInt64(in.state, 1, so.Obs...)
		}
		for _, c := range g.Offsets {
			if c.Offset < 0 {
				continue // no offset: Kafka's -1
			}
			p, err := src.Partition(c.Topic, c.Partition)
			if err != nil {
				continue // the topic was deleted, or the partition never existed
			}
			start, next := p.Offsets()
			pairs = append(pairs, pair{
				key:       pairKey{g.Name, c.Topic, c.Partition},
				committed: c.Offset,
				lag:       max(next-c.Offset, 0),
				part:      p,
				start:     start,
			})
		}
	}
	m.groupOpts = groupOpts

	if len(pairs) > m.maxSeries {
		// Keep the largest lags: the partitions an operator must see.
		slices.SortFunc(pairs, func(a, b pair) int {
			if c := cmp.Compare(b.lag, a.lag); c != 0 {
				return c
			}
			return cmpKey(a.key, b.key)
		})
		m.dropped.Add(int64(len(pairs) - m.maxSeries))
		pairs = pairs[:m.maxSeries]
	}

	now := m.now().UnixMilli()
	stamps := make(map[pairKey]stamp, len(pairs))
	opts := make(map[pairKey]instr.Opt, len(pairs))
	for _, p := range pairs {
		opt, ok := m.opts[p.key]
		if !ok {
			opt = instr.NewOpt(attribute.String("group", p.key.group), attribute.String("topic", p.key.topic),
				attribute.String("partition", strconv.Itoa(int(p.key.partition))))
		}
		opts[p.key] = opt
		o.ObserveInt64(in.committed, p.committed, opt.Obs...)
		o.ObserveInt64(in.lag, p.lag, opt.Obs...)
		if p.lag == 0 {
			o.ObserveFloat64(in.lagSec, 0, opt.Obs...)
			continue
		}
		st, ok := m.stamps[p.key]
		if !ok || st.offset != p.committed {
			st, ok = m.readStamp(p)
			if !ok {
				continue // unreadable now (a storage error): no value rather than a wrong one
			}
		}
		stamps[p.key] = st
		if st.ok {
			o.ObserveFloat64(in.lagSec, max(float64(now-st.ms)/1000, 0), opt.Obs...)
		}
	}
	m.stamps, m.opts = stamps, opts
}

// readStamp reads the first timestamp of the batch holding the oldest
// record p's group has not consumed: the one at its committed offset, or at
// the log start when retention deleted that. The batch's first timestamp is
// its first record's, so when the committed offset is inside a batch the age
// is that of the batch's first record, older by at most the batch's span.
func (m *Metrics) readStamp(p pair) (stamp, bool) {
	off := max(p.committed, p.start)
	for range 2 {
		b, err := p.part.AppendBatches(m.buf[:0], off, 1)
		if errors.Is(err, kerr.OffsetOutOfRange) {
			// Retention moved the start since Offsets was read.
			start, _ := p.part.Offsets()
			off = max(off, start)
			continue
		}
		if err != nil || len(b) == 0 {
			return stamp{}, false
		}
		m.buf = b
		h, err := recordbatch.ParseHeader(b)
		if err != nil {
			return stamp{}, false
		}
		return stamp{offset: p.committed, ms: h.FirstTimestamp, ok: h.FirstTimestamp >= 0}, true
	}
	return stamp{}, false
}

func newGroupOpt(name string) groupOpt {
	g := groupOpt{group: instr.NewOpt(attribute.String("group", name)), other: map[string]instr.Opt{}}
	for _, s := range States {
		g.states = append(g.states, instr.NewOpt(attribute.String("group", name), attribute.String("state", s)))
	}
	return g
}

func cmpKey(a, b pairKey) int {
	if c := cmp.Compare(a.group, b.group); c != 0 {
		return c
	}
	if c := cmp.Compare(a.topic, b.topic); c != 0 {
		return c
	}
	return cmp.Compare(a.partition, b.partition)
}
