package raftnode

import (
	"time"

	"github.com/hashicorp/raft"
)

// Observer sees what Raft does on this node, as it happens: entries stored,
// committed and applied, RPCs sent and received, leaders observed, snapshots
// taken and restored, storage errors. Telemetry subscribes through it; this package knows
// nothing of metrics or traces.
//
// Methods run synchronously on Raft's own paths (log store writes, the FSM,
// replication, the RPC loop): they must be cheap, must not block and must not
// call back into the Node. Event structs and the logs and requests they point
// to belong to Raft: read them during the call, keep nothing, modify nothing.
//
// Give the Observer to Open (Config.Observer) so it sees the node from its
// first election; a restarted node is opened with it again. Embed NopObserver
// to implement only some methods; Multi fans events out to several.
type Observer interface {
	// LogsStored follows every StoreLogs call on this node's log store: a
	// leader writing its new entries, a follower the leader's.
	LogsStored(LogsStored)
	// EntryCommitted reports, on the leader, each command entry it appended
	// in its current term once a quorum of voters holds it.
	EntryCommitted(EntryCommitted)
	// EntryApplied follows each command entry the FSM applied.
	EntryApplied(EntryApplied)
	// RPCSent is called as an RPC leaves for a peer. The function it
	// returns, when not nil, is called once with the RPC's outcome.
	RPCSent(RPCSent) func(RPCDone)
	// RPCReceived is called as an RPC arrives, before Raft handles it.
	RPCReceived(RPCReceived)
	// LeaderObserved reports each leader this node learns of, once per
	// (leader, term), itself included. A leader known when the node starts
	// is reported too.
	LeaderObserved(LeaderObserved)
	// SnapshotTaken follows each snapshot this node took, persisted or
	// failed.
	SnapshotTaken(SnapshotTaken)
	// SnapshotRestored follows each snapshot restored into the FSM: at
	// start-up from the local store, or sent by the leader.
	SnapshotRestored(SnapshotRestored)
	// StorageFailed follows each storage error the node met while Raft
	// ran; the first stopped the node (see Node.Fault).
	StorageFailed(StorageFault)
}

// LogsStored describes one StoreLogs call.
type LogsStored struct {
	// Logs are the entries written, in index order. They carry Index,
	// Term, Type, AppendedAt (set by the leader) and Extensions.
	Logs []*raft.Log
	// Proposed holds, for each of Logs, when this node proposed it
	// (Node.Propose), or the zero time; nil when it proposed none of them.
	// Only a leader's own proposals are known, and only when the write
	// succeeded: AppendedAt minus Proposed is the time the entry queued
	// inside hashicorp/raft before the leader took it (its apply queue and
	// the batch ahead of it).
	Proposed []time.Time
	Duration time.Duration // the write and its fsync
	Err      error
}

// EntryCommitted describes a command entry this node appended as leader
// that a quorum of voters now holds.
type EntryCommitted struct {
	Index uint64
	Term  uint64
	// AppendedAt is when the leader appended the entry to its log
	// (raft.Log.AppendedAt, set as it takes a proposal off its queue).
	AppendedAt time.Time
	// At is when the quorum was reached, as this leader saw it: the
	// response that completed it arrived, or its own write ended.
	At         time.Time
	Extensions []byte
}

// EntryApplied describes one command entry applied to the FSM.
type EntryApplied struct {
	Index      uint64
	Term       uint64
	Extensions []byte
	Start      time.Time
	Duration   time.Duration
	// Err is the entry's error as the proposer is answered with it: the
	// command's, else the first partition's; nil when it succeeded.
	Err error
}

// RPCSent describes an RPC leaving for Target. Request is one of
// *raft.AppendEntriesRequest, *raft.RequestVoteRequest,
// *raft.RequestPreVoteRequest, *raft.InstallSnapshotRequest or
// *raft.TimeoutNowRequest.
type RPCSent struct {
	Target  raft.ServerID
	Request any
}

// RPCDone is the outcome of a sent RPC: its response (the request's
// matching *raft.…Response) or the transport's error.
type RPCDone struct {
	Response any
	Err      error
	Duration time.Duration
}

// RPCReceived describes an RPC arriving; Request is as in RPCSent.
type RPCReceived struct {
	Request any
}

// LeaderObserved names the leader of a term.
type LeaderObserved struct {
	Leader raft.ServerID
	Term   uint64
}

// SnapshotTaken describes one snapshot: taken and persisted to the
// snapshot store, or failed (Err).
type SnapshotTaken struct {
	Duration time.Duration // persisting it
	Size     int64         // bytes persisted
	Err      error
}

// SnapshotRestored describes one snapshot restored into the FSM.
type SnapshotRestored struct {
	Duration time.Duration
	Err      error
}

// NopObserver ignores every event; embed it to observe only some.
type NopObserver struct{}

func (NopObserver) LogsStored(LogsStored)             {}
func (NopObserver) EntryCommitted(EntryCommitted)     {}
func (NopObserver) EntryApplied(EntryApplied)         {}
func (NopObserver) RPCSent(RPCSent) func(RPCDone)     { return nil }
func (NopObserver) RPCReceived(RPCReceived)           {}
func (NopObserver) LeaderObserved(LeaderObserved)     {}
func (NopObserver) SnapshotTaken(SnapshotTaken)       {}
func (NopObserver) SnapshotRestored(SnapshotRestored) {}
func (NopObserver) StorageFailed(StorageFault)        {}

var _ Observer = NopObserver{}

// Multi returns an Observer that reports every event to each of obs in
// turn. Nil observers are left out; Multi of none is nil, of one is that one.
func Multi(obs ...Observer) Observer {
	var m multi
	for _, o := range obs {
		switch o := o.(type) {
		case nil:
		case multi:
			m = append(m, o...)
		default:
			m = append(m, o)
		}
	}
	switch len(m) {
	case 0:
		return nil
	case 1:
		return m[0]
	}
	return m
}

type multi []Observer

func (m multi) LogsStored(e LogsStored) {
	for _, o := range m {
		o.LogsStored(e)
	}
}

func (m multi) EntryCommitted(e EntryCommitted) {
	for _, o := range m {
		o.EntryCommitted(e)
	}
}

func (m multi) EntryApplied(e EntryApplied) {
	for _, o := range m {
		o.EntryApplied(e)
	}
}

func (m multi) RPCSent(e RPCSent) func(RPCDone) {
	var buf [4]func(RPCDone)
	dones := buf[:0]
	for _, o := range m {
		if d := o.RPCSent(e); d != nil {
			dones = append(dones, d)
		}
	}
	switch len(dones) {
	case 0:
		return nil
	case 1:
		return dones[0]
	}
	ds := append([]func(RPCDone){}, dones...)
	return func(d RPCDone) {
		for _, f := range ds {
			f(d)
		}
	}
}

func (m multi) RPCReceived(e RPCReceived) {
	for _, o := range m {
		o.RPCReceived(e)
	}
}

func (m multi) LeaderObserved(e LeaderObserved) {
	for _, o := range m {
		o.LeaderObserved(e)
	}
}

func (m multi) SnapshotTaken(e SnapshotTaken) {
	for _, o := range m {
		o.SnapshotTaken(e)
	}
}

func (m multi) SnapshotRestored(e SnapshotRestored) {
	for _, o := range m {
		o.SnapshotRestored(e)
	}
}

func (m multi) StorageFailed(e StorageFault) {
	for _, o := range m {
		o.StorageFailed(e)
	}
}
