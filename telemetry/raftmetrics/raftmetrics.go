// Package raftmetrics exports what Raft does on one node as the raft_*
// metrics of docs/METRICS.md. RPCs are counted on the transport as they are
// sent and received, leader changes from Raft's own observations, latencies
// around the log store and FSM calls; gauges are read from the running Raft
// instance when scraped.
package raftmetrics

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/telemetry/internal/instr"
	"github.com/raftline/raftline/telemetry/raftwatch"
)

// Node is the running node the gauges read; *raftnode.Node is one.
type Node interface {
	Raft() *raft.Raft
	LogDir() string
}

var (
	_ raftnode.RPCObserver = (*Metrics)(nil)
	_ Node                 = (*raftnode.Node)(nil)
)

// Metrics holds one node's raft_* instruments.
type Metrics struct {
	watch *raftwatch.Watch

	elections     metric.Int64Counter
	appendEntries metric.Int64Counter
	heartbeats    metric.Int64Counter
	votes         metric.Int64Counter
	preVotes      metric.Int64Counter
	snapshots     metric.Int64Counter
	commitDur     metric.Float64Histogram
	applyDur      metric.Float64Histogram
	storeDur      metric.Float64Histogram
	snapDur       metric.Float64Histogram

	sent, received, success, failure instr.Opt
	states                           map[raft.RaftState]instr.Opt
	leaders                          *instr.OptCache[raft.ServerID]
	followers                        *instr.OptCache[raft.ServerID]

	snapSize atomic.Int64
	// snapLast holds the last snapshot's persist time in seconds, as
	// float64 bits: snapshots are minutes apart, too rare for a rate of
	// the histogram to show on a dashboard.
	snapLast atomic.Uint64
	store    atomic.Pointer[raft.LogStore]

	mu   sync.Mutex
	node *attached
	reg  metric.Registration
}

type attached struct {
	n     Node
	r     *raft.Raft
	since time.Time
	obs   *raft.Observer
	stop  chan struct{}
	done  chan struct{}
}

var stateNames = map[raft.RaftState]string{
	raft.Leader: "leader", raft.Follower: "follower", raft.Candidate: "candidate", raft.Shutdown: "shutdown",
}

// New creates the instruments on meter. watch supplies follower match
// indexes and commit times; register m.Committed with it.
func New(meter metric.Meter, watch *raftwatch.Watch) (*Metrics, error) {
	m := &Metrics{
		watch:    watch,
		sent:     instr.NewOpt(attribute.String("direction", "sent")),
		received: instr.NewOpt(attribute.String("direction", "received")),
		success:  instr.NewOpt(attribute.String("result", "success")),
		failure:  instr.NewOpt(attribute.String("result", "failure")),
		states:   map[raft.RaftState]instr.Opt{},
		leaders: instr.NewOptCache(func(id raft.ServerID) instr.Opt {
			return instr.NewOpt(attribute.String("leader_id", string(id)))
		}),
		followers: instr.NewOptCache(func(id raft.ServerID) instr.Opt {
			return instr.NewOpt(attribute.String("follower_id", string(id)))
		}),
	}
	for st, name := range stateNames {
		m.states[st] = instr.NewOpt(attribute.String("state", name))
	}
	reg := &instr.Registrar{Meter: meter}
	counter, histogram := reg.Counter, reg.Seconds
	m.elections = counter("raft_leader_elections_total",
		"Leader changes this node observed: each time it learned of a newly elected leader (itself included) for a new term or a different node. Rises on every surviving node in an election storm.")
	m.appendEntries = counter("raft_append_entries_total",
		"AppendEntries RPCs that carried at least one log entry, counted on the transport as this node sent or received them.")
	m.heartbeats = counter("raft_heartbeats_total",
		"AppendEntries RPCs that carried no log entry (leader heartbeats), counted on the transport as this node sent or received them.")
	m.votes = counter("raft_vote_requests_total",
		"RequestVote RPCs (a candidate asking for a vote in a real election), counted on the transport as this node sent or received them.")
	m.preVotes = counter("raft_pre_vote_requests_total",
		"RequestPreVote RPCs (a would-be candidate checking it could win before starting an election), counted on the transport as this node sent or received them.")
	m.snapshots = counter("raft_snapshots_total",
		"Snapshots this node took, by result: persisted (success) or failed while taking or persisting (failure).")
	m.commitDur = histogram("raft_commit_duration_seconds",
		"On the leader: time from appending an entry to its log (raft.Log.AppendedAt) to a quorum of voters holding it, per command entry.")
	m.applyDur = histogram("raft_fsm_apply_duration_seconds",
		"Time to apply one command entry to the FSM.")
	m.storeDur = histogram("raft_log_store_append_duration_seconds",
		"Time of one log store StoreLogs call (one or more entries written and fsynced).")
	m.snapDur = histogram("raft_snapshot_duration_seconds",
		"Time to persist one snapshot to the snapshot store.")
	if reg.Err != nil {
		return nil, reg.Err
	}
	// Every counter's series are exported from the start, at 0, so a rule
	// (snapshot failures, an election's increase()) has a series to read
	// before the first event.
	ctx := context.Background()
	m.elections.Add(ctx, 0)
	for _, c := range []metric.Int64Counter{m.appendEntries, m.heartbeats, m.votes, m.preVotes} {
		c.Add(ctx, 0, m.sent.Add...)
		c.Add(ctx, 0, m.received.Add...)
	}
	m.snapshots.Add(ctx, 0, m.success.Add...)
	m.snapshots.Add(ctx, 0, m.failure.Add...)
	if err := m.gauges(meter); err != nil {
		return nil, err
	}
	return m, nil
}

// Attach points the metrics at a running node (again after a restart) and
// starts counting its leader changes.
func (m *Metrics) Attach(n Node) {
	r := n.Raft()
	a := &attached{n: n, r: r, since: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	ch := make(chan raft.Observation, 64)
	a.obs = raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(a.obs)
	m.mu.Lock()
	old := m.node
	m.node = a
	m.mu.Unlock()
	old.close()
	go m.countElections(a, ch)
}

// Close stops counting leader changes and lets go of the node.
func (m *Metrics) Close() {
	m.mu.Lock()
	a := m.node
	m.node = nil
	m.mu.Unlock()
	a.close()
	m.store.Store(nil)
}

func (a *attached) close() {
	if a == nil {
		return
	}
	select {
	case <-a.stop:
	default:
		close(a.stop)
		a.r.DeregisterObserver(a.obs)
	}
	<-a.done
}

// countElections counts a leader change once per (leader, term): a node
// that briefly loses its leader and finds the same one in the same term (a
// failed pre-vote) saw no election.
func (m *Metrics) countElections(a *attached, ch <-chan raft.Observation) {
	defer close(a.done)
	var leader raft.ServerID
	var term uint64
	count := func(id raft.ServerID) {
		if id == "" {
			return
		}
		t := a.r.CurrentTerm()
		if id != leader || t != term {
			leader, term = id, t
			m.elections.Add(context.Background(), 1)
		}
	}
	// A leader known already was elected before the observer was in place.
	_, id := a.r.LeaderWithID()
	count(id)
	for {
		select {
		case o := <-ch:
			if lo, ok := o.Data.(raft.LeaderObservation); ok {
				count(lo.LeaderID)
			}
		case <-a.stop:
			return
		}
	}
}

// Sent implements raftnode.RPCObserver.
func (m *Metrics) Sent(_ raft.ServerID, cmd any) func(any, error) {
	m.count(cmd, m.sent)
	return nil
}

// Received implements raftnode.RPCObserver.
func (m *Metrics) Received(cmd any) { m.count(cmd, m.received) }

func (m *Metrics) count(cmd any, dir instr.Opt) {
	ctx := context.Background()
	switch c := cmd.(type) {
	case *raft.AppendEntriesRequest:
		if len(c.Entries) > 0 {
			m.appendEntries.Add(ctx, 1, dir.Add...)
		} else {
			m.heartbeats.Add(ctx, 1, dir.Add...)
		}
	case *raft.RequestVoteRequest:
		m.votes.Add(ctx, 1, dir.Add...)
	case *raft.RequestPreVoteRequest:
		m.preVotes.Add(ctx, 1, dir.Add...)
	}
}

// Committed records the commit latency of an entry this node led; register
// it with the Watch.
func (m *Metrics) Committed(c raftwatch.Committed) {
	if !c.AppendedAt.IsZero() {
		m.commitDur.Record(context.Background(), c.At.Sub(c.AppendedAt).Seconds())
	}
}

// WrapLogStore times every StoreLogs call and keeps the store for the
// log-entries gauge.
func (m *Metrics) WrapLogStore(s raft.LogStore) raft.LogStore {
	m.store.Store(&s)
	return &logStore{LogStore: s, m: m}
}

type logStore struct {
	raft.LogStore
	m *Metrics
}

func (s *logStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *logStore) StoreLogs(logs []*raft.Log) error {
	start := time.Now()
	err := s.LogStore.StoreLogs(logs)
	s.m.storeDur.Record(context.Background(), time.Since(start).Seconds())
	return err
}

// IsMonotonic forwards raft.MonotonicLogStore.
func (s *logStore) IsMonotonic() bool {
	ms, ok := s.LogStore.(raft.MonotonicLogStore)
	return ok && ms.IsMonotonic()
}

// WrapFSM times applies and counts, times and sizes snapshots.
func (m *Metrics) WrapFSM(f raft.FSM) raft.FSM { return &machine{FSM: f, m: m} }

type machine struct {
	raft.FSM
	m *Metrics
}

func (f *machine) Apply(l *raft.Log) any {
	start := time.Now()
	res := f.FSM.Apply(l)
	if l.Type == raft.LogCommand {
		f.m.applyDur.Record(context.Background(), time.Since(start).Seconds())
	}
	return res
}

func (f *machine) Snapshot() (raft.FSMSnapshot, error) {
	s, err := f.FSM.Snapshot()
	if err != nil {
		f.m.snapshots.Add(context.Background(), 1, f.m.failure.Add...)
		return nil, err
	}
	return &snapshot{FSMSnapshot: s, m: f.m}, nil
}

type snapshot struct {
	raft.FSMSnapshot
	m *Metrics
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	start := time.Now()
	cs := &countingSink{SnapshotSink: sink}
	err := s.FSMSnapshot.Persist(cs)
	ctx := context.Background()
	if err != nil {
		s.m.snapshots.Add(ctx, 1, s.m.failure.Add...)
		return err
	}
	s.m.snapDur.Record(ctx, time.Since(start).Seconds())
	s.m.snapSize.Store(cs.n)
	s.m.snapLast.Store(math.Float64bits(time.Since(start).Seconds()))
	s.m.snapshots.Add(ctx, 1, s.m.success.Add...)
	return nil
}

type countingSink struct {
	raft.SnapshotSink
	n int64
}

func (c *countingSink) Write(p []byte) (int, error) {
	n, err := c.SnapshotSink.Write(p)
	c.n += int64(n)
	return n, err
}

var _ io.Writer = (*countingSink)(nil)

// gauges registers the gauges read from the running node at scrape time.
func (m *Metrics) gauges(meter metric.Meter) error {
	reg := &instr.Registrar{Meter: meter}
	gauge := reg.Gauge
	logEntries := gauge("raft_log_entries", "Entries currently held in the raft log store (last index - first index + 1).")
	term := gauge("raft_current_term", "Current raft term.")
	commit := gauge("raft_commit_index", "Highest log index this node knows to be committed.")
	state := gauge("raft_state", "1 for the node's current raft state (leader, follower, candidate, shutdown), 0 for the others.")
	leaderInfo := gauge("raft_leader_info", "1 for the leader this node currently knows, by node id (leader_id=\"\" when none).")
	hasLeader := gauge("raft_has_leader", "1 when this node knows a leader, else 0.")
	applied := gauge("raft_applied_index", "Highest log index applied to the FSM.")
	voters := gauge("raft_voters", "Voting members in the latest configuration this node holds.")
	lag := gauge("raft_follower_lag_entries", "On the leader: leader last index - the follower's matched index, for each follower that acknowledged entries in the current term.")
	logSize := gauge("raft_log_size_bytes", "Disk space taken by the raft log store files (allocated blocks).")
	snapSize := gauge("raft_snapshot_size_bytes", "Size of the last snapshot this node persisted (0 before the first).")
	snapLast := reg.SecondsGauge("raft_snapshot_last_duration_seconds",
		"Time the last snapshot this node persisted took (0 before the first).")
	lastContact := reg.SecondsGauge("raft_last_contact_seconds",
		"Seconds since this node last heard from the leader (0 on the leader; since start when never).")
	if reg.Err != nil {
		return reg.Err
	}
	var err error
	m.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		m.mu.Lock()
		a := m.node
		m.mu.Unlock()
		o.ObserveInt64(snapSize, m.snapSize.Load())
		o.ObserveFloat64(snapLast, math.Float64frombits(m.snapLast.Load()))
		if a == nil {
			return nil
		}
		r := a.r
		st := r.State()
		for s, opt := range m.states {
			o.ObserveInt64(state, b2i(s == st), opt.Obs...)
		}
		_, lid := r.LeaderWithID()
		o.ObserveInt64(leaderInfo, 1, m.leaders.Get(lid).Obs...)
		o.ObserveInt64(hasLeader, b2i(lid != ""))
		o.ObserveInt64(term, int64(r.CurrentTerm()))
		o.ObserveInt64(commit, int64(r.CommitIndex()))
		o.ObserveInt64(applied, int64(r.AppliedIndex()))
		switch lc := r.LastContact(); {
		case st == raft.Leader:
			o.ObserveFloat64(lastContact, 0)
		case lc.IsZero():
			o.ObserveFloat64(lastContact, time.Since(a.since).Seconds())
		default:
			o.ObserveFloat64(lastContact, time.Since(lc).Seconds())
		}
		if s := m.store.Load(); s != nil {
			o.ObserveInt64(logEntries, entries(*s))
		}
		nv := 0
		for _, s := range m.watch.Servers() {
			if s.Suffrage == raft.Voter {
				nv++
			}
		}
		o.ObserveInt64(voters, int64(nv))
		last := r.LastIndex()
		for id, match := range m.watch.Matches() {
			o.ObserveInt64(lag, int64(last-min(match, last)), m.followers.Get(id).Obs...)
		}
		o.ObserveInt64(logSize, dirSize(filepath.Join(a.n.LogDir(), "wal")))
		return nil
	}, logEntries, term, commit, state, leaderInfo, hasLeader, applied, voters, lag, logSize, snapSize, snapLast, lastContact)
	return err
}

func entries(s raft.LogStore) int64 {
	first, err1 := s.FirstIndex()
	last, err2 := s.LastIndex()
	if err1 != nil || err2 != nil || last == 0 || last < first {
		return 0
	}
	return int64(last - first + 1)
}

func dirSize(dir string) int64 {
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, de := range des {
		if fi, err := de.Info(); err == nil && fi.Mode().IsRegular() {
			n += diskBytes(fi)
		}
	}
	return n
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
