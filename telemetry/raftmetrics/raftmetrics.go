// Package raftmetrics exports what Raft does on one node as the raft_*
// metrics of docs/METRICS.md. Counters and latencies come from the node's
// event stream (Metrics is a raftnode.Observer): RPCs as the transport sends
// and receives them, leaders observed, log store writes, commits, applies
// and snapshots. Gauges are read from the running node when scraped. The
// node's storage errors, from the same stream, are
// raftline_storage_errors_total.
package raftmetrics

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/telemetry/internal/instr"
	"github.com/raftline/raftline/telemetry/tracing"
)

// Source is the running node the gauges read; *raftnode.Node is one.
type Source interface {
	Raft() *raft.Raft
	LogDir() string
	LogEntries() uint64
	// FollowerMatches is nil unless the node leads.
	FollowerMatches() map[raft.ServerID]uint64
	Configuration() []raft.Server
	// OldestAppendInFlight is the age of the oldest log store write still
	// running, 0 when none is.
	OldestAppendInFlight() time.Duration
}

var (
	_ raftnode.Observer = (*Metrics)(nil)
	_ Source            = (*raftnode.Node)(nil)
)

// Metrics holds one node's raft_* instruments. It is a raftnode.Observer.
type Metrics struct {
	raftnode.NopObserver

	elections     metric.Int64Counter
	appendEntries metric.Int64Counter
	heartbeats    metric.Int64Counter
	votes         metric.Int64Counter
	preVotes      metric.Int64Counter
	snapshots     metric.Int64Counter
	commitDur     metric.Float64Histogram
	queueDur      metric.Float64Histogram
	applyDur      metric.Float64Histogram
	storeDur      metric.Float64Histogram
	snapDur       metric.Float64Histogram
	replRTT       metric.Float64Histogram
	storageErrors metric.Int64Counter

	sent, received, success, failure instr.Opt
	states                           map[raft.RaftState]instr.Opt
	storageOps                       map[raftnode.StorageOp]instr.Opt
	leaders                          *instr.OptCache[raft.ServerID]
	followers                        *instr.OptCache[raft.ServerID]

	snapSize atomic.Int64
	// snapLast holds the last snapshot's persist time in seconds, as
	// float64 bits: snapshots are minutes apart, too rare for a rate of
	// the histogram to show on a dashboard.
	snapLast atomic.Uint64

	mu   sync.Mutex
	node *attached
	reg  metric.Registration
}

type attached struct {
	src   Source
	r     *raft.Raft
	since time.Time
}

var stateNames = map[raft.RaftState]string{
	raft.Leader: "leader", raft.Follower: "follower", raft.Candidate: "candidate", raft.Shutdown: "shutdown",
}

// New creates the instruments on meter.
func New(meter metric.Meter) (*Metrics, error) {
	m := &Metrics{
		sent:       instr.NewOpt(attribute.String("direction", "sent")),
		received:   instr.NewOpt(attribute.String("direction", "received")),
		success:    instr.NewOpt(attribute.String("result", "success")),
		failure:    instr.NewOpt(attribute.String("result", "failure")),
		states:     map[raft.RaftState]instr.Opt{},
		storageOps: map[raftnode.StorageOp]instr.Opt{},
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
	for _, op := range raftnode.StorageOps {
		m.storageOps[op] = instr.NewOpt(attribute.String("op", string(op)))
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
	m.queueDur = histogram("raft_proposal_queue_duration_seconds",
		"On the leader: time from proposing a command entry to the leader taking it off hashicorp/raft's queue and appending it (raft.Log.AppendedAt): the wait behind the batches ahead of it, before its write starts.")
	m.applyDur = histogram("raft_fsm_apply_duration_seconds",
		"Time to apply one command entry to the FSM.")
	m.storeDur = histogram("raft_log_store_append_duration_seconds",
		"Time of one log store StoreLogs call (one or more entries written and fsynced).")
	m.replRTT = histogram("raft_replication_rtt_seconds",
		"On the leader: round trip of one AppendEntries RPC that carried log entries to a follower, from sending it to its answer (the network both ways and the follower's log write and fsync), by follower_id. Failed RPCs are not timed.")
	m.snapDur = histogram("raft_snapshot_duration_seconds",
		"Time to persist one snapshot to the snapshot store.")
	m.storageErrors = counter("raftline_storage_errors_total",
		"Storage errors this node met, by what it was doing: partition_write, raft_log_write, raft_log_read, raft_state_write, snapshot_write, data_dir. The first stops the node: it stops leading and serving, /readyz says why, and the process exits.")
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
	for _, op := range raftnode.StorageOps {
		m.storageErrors.Add(ctx, 0, m.storageOps[op].Add...)
	}
	if err := m.gauges(meter); err != nil {
		return nil, err
	}
	return m, nil
}

// Attach points the gauges at a running node (again after a restart).
func (m *Metrics) Attach(src Source) {
	a := &attached{src: src, r: src.Raft(), since: time.Now()}
	m.mu.Lock()
	m.node = a
	m.mu.Unlock()
}

// Close lets go of the node.
func (m *Metrics) Close() {
	m.mu.Lock()
	m.node = nil
	m.mu.Unlock()
}

// LeaderObserved counts a leader change; the node reports each once per
// (leader, term).
func (m *Metrics) LeaderObserved(raftnode.LeaderObserved) {
	m.elections.Add(context.Background(), 1)
}

// RPCSent counts an RPC this node sent and, for an AppendEntries that
// carries entries (replication on the write path, not a heartbeat), times
// its round trip to the follower once answered.
func (m *Metrics) RPCSent(e raftnode.RPCSent) func(raftnode.RPCDone) {
	m.count(e.Request, m.sent)
	if ae, ok := e.Request.(*raft.AppendEntriesRequest); ok && len(ae.Entries) > 0 {
		follower := m.followers.Get(e.Target)
		return func(d raftnode.RPCDone) {
			if d.Err == nil {
				m.replRTT.Record(context.Background(), d.Duration.Seconds(), follower.Record...)
			}
		}
	}
	return nil
}

// RPCReceived counts an RPC this node received.
func (m *Metrics) RPCReceived(e raftnode.RPCReceived) { m.count(e.Request, m.received) }

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

// LogsStored times a log store write and, for the entries this leader
// proposed, the time they queued before it, with the trace context an entry
// carries as the bucket's exemplar.
func (m *Metrics) LogsStored(e raftnode.LogsStored) {
	m.storeDur.Record(context.Background(), e.Duration.Seconds())
	for i, at := range e.Proposed {
		l := e.Logs[i]
		if at.IsZero() || l.AppendedAt.IsZero() {
			continue
		}
		ctx := context.Background()
		if sc, ok := tracing.DecodeContext(l.Extensions); ok {
			ctx = trace.ContextWithSpanContext(ctx, sc)
		}
		m.queueDur.Record(ctx, max(l.AppendedAt.Sub(at), 0).Seconds())
	}
}

// EntryCommitted records the commit latency of an entry this node led,
// with the trace context the entry carries (its propose span), if any, so
// the bucket's exemplar points at the write's trace.
func (m *Metrics) EntryCommitted(e raftnode.EntryCommitted) {
	if !e.AppendedAt.IsZero() {
		ctx := context.Background()
		if sc, ok := tracing.DecodeContext(e.Extensions); ok {
			ctx = trace.ContextWithSpanContext(ctx, sc)
		}
		m.commitDur.Record(ctx, e.At.Sub(e.AppendedAt).Seconds())
	}
}

// EntryApplied times an apply.
func (m *Metrics) EntryApplied(e raftnode.EntryApplied) {
	m.applyDur.Record(context.Background(), e.Duration.Seconds())
}

// SnapshotTaken counts, times and sizes a snapshot.
func (m *Metrics) SnapshotTaken(e raftnode.SnapshotTaken) {
	ctx := context.Background()
	if e.Err != nil {
		m.snapshots.Add(ctx, 1, m.failure.Add...)
		return
	}
	m.snapDur.Record(ctx, e.Duration.Seconds())
	m.snapSize.Store(e.Size)
	m.snapLast.Store(math.Float64bits(e.Duration.Seconds()))
	m.snapshots.Add(ctx, 1, m.success.Add...)
}

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
	appendInFlight := reg.SecondsGauge("raft_log_store_append_oldest_inflight_seconds",
		"Age of the oldest log store write (StoreLogs, with its fsync) still running on this node, 0 when none is: a hung disk shows here while it hangs.")
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
		o.ObserveFloat64(appendInFlight, a.src.OldestAppendInFlight().Seconds())
		o.ObserveInt64(logEntries, int64(a.src.LogEntries()))
		nv := 0
		for _, s := range a.src.Configuration() {
			if s.Suffrage == raft.Voter {
				nv++
			}
		}
		o.ObserveInt64(voters, int64(nv))
		last := r.LastIndex()
		for id, match := range a.src.FollowerMatches() {
			o.ObserveInt64(lag, int64(last-min(match, last)), m.followers.Get(id).Obs...)
		}
		o.ObserveInt64(logSize, dirSize(filepath.Join(a.src.LogDir(), "wal")))
		return nil
	}, logEntries, term, commit, state, leaderInfo, hasLeader, applied, voters, lag, logSize, snapSize, snapLast, lastContact, appendInFlight)
	return err
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

// StorageFailed counts a storage error; its op is one of raftnode.StorageOps.
func (m *Metrics) StorageFailed(e raftnode.StorageFault) {
	if opt, ok := m.storageOps[e.Op]; ok {
		m.storageErrors.Add(context.Background(), 1, opt.Add...)
	}
}
