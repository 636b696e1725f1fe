// Package raftwatch follows replication on one node from the places where it
// happens: the AppendEntries responses the transport sees and the entries
// the log store writes. From them it knows, while the node leads, each
// follower's matched index and the moment each entry this leader appended
// reached a quorum of voters, which hashicorp/raft does not report per entry.
// Metrics (commit latency, follower lag) and traces (the commit span) read it.
package raftwatch

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// maxPending bounds the entries waiting for a quorum; past it new entries go
// untracked (they still commit, only their commit time is not measured).
const maxPending = 1 << 16

// Committed describes an entry this node appended as leader that a quorum
// of voters now holds.
type Committed struct {
	Index uint64
	Term  uint64
	// AppendedAt is when the leader appended the entry to its log
	// (raft.Log.AppendedAt, set as the leader takes a proposal off its
	// queue).
	AppendedAt time.Time
	// At is when the quorum was reached, as seen by this leader: the
	// response that completed it arrived, or the leader's own write ended.
	At         time.Time
	Extensions []byte
}

// Source is what Watch reads from the running node.
type Source interface {
	State() raft.RaftState
	GetConfiguration() raft.ConfigurationFuture
}

type pendingEntry struct {
	index, term uint64
	appendedAt  time.Time
	ext         []byte
}

// Watch tracks replication. The zero value is not usable; call New.
type Watch struct {
	onCommit []func(Committed)
	src      atomic.Pointer[Source]
	self     atomic.Pointer[raft.ServerID]

	mu        sync.Mutex
	term      uint64
	servers   []raft.Server // latest configuration, committed or not
	match     map[raft.ServerID]uint64
	stored    uint64 // highest index this leader has durably stored
	committed uint64
	pending   []pendingEntry // ascending index
}

// New returns a Watch.
func New() *Watch {
	return &Watch{match: map[raft.ServerID]uint64{}}
}

// OnCommit adds a function called for every entry the Watch sees committed.
// Add them all before Attach. They run under the Watch's lock on Raft's
// replication and FSM paths: they must be quick and must not call the Watch.
func (w *Watch) OnCommit(f func(Committed)) { w.onCommit = append(w.onCommit, f) }

// Attach points the Watch at a running node (again after a restart). It
// reads the configuration in the background so it never delays start-up.
func (w *Watch) Attach(src Source, self raft.ServerID) {
	w.src.Store(&src)
	w.self.Store(&self)
	w.mu.Lock()
	w.term, w.stored, w.committed = 0, 0, 0
	w.servers = nil
	clear(w.match)
	w.pending = w.pending[:0]
	w.mu.Unlock()
	go func() {
		f := src.GetConfiguration()
		if f.Error() != nil {
			return
		}
		w.mu.Lock()
		if w.servers == nil {
			c := f.Configuration()
			w.servers = c.Clone().Servers
		}
		w.mu.Unlock()
	}()
}

// Detach lets go of the node.
func (w *Watch) Detach() {
	w.src.Store(nil)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.servers = nil
	clear(w.match)
	w.pending = nil
}

func (w *Watch) isLeader() bool {
	src := w.src.Load()
	return src != nil && (*src).State() == raft.Leader
}

func (w *Watch) selfID() raft.ServerID {
	if p := w.self.Load(); p != nil {
		return *p
	}
	return ""
}

// Sent implements raftnode.RPCObserver: a successful AppendEntries response
// moves the follower's matched index.
func (w *Watch) Sent(target raft.ServerID, cmd any) func(any, error) {
	req, ok := cmd.(*raft.AppendEntriesRequest)
	if !ok {
		return nil
	}
	idx := req.PrevLogEntry
	if n := len(req.Entries); n > 0 {
		idx = req.Entries[n-1].Index
	}
	if idx == 0 {
		return nil // a heartbeat says nothing about the follower's log
	}
	term := req.Term
	return func(resp any, err error) {
		if r, ok := resp.(*raft.AppendEntriesResponse); ok && err == nil && r.Success {
			w.matched(term, target, idx)
		}
	}
}

// Received implements raftnode.RPCObserver.
func (w *Watch) Received(any) {}

func (w *Watch) matched(term uint64, id raft.ServerID, idx uint64) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.useTerm(term) {
		return
	}
	if idx > w.match[id] {
		w.match[id] = idx
	}
	w.advance(now)
}

// useTerm moves to a newer leadership term, forgetting what was tracked
// under the old one, and reports whether term is current.
func (w *Watch) useTerm(term uint64) bool {
	if term < w.term {
		return false
	}
	if term > w.term {
		w.term, w.stored, w.committed = term, 0, 0
		clear(w.match)
		w.pending = w.pending[:0]
	}
	return true
}

// advance finds the highest index a quorum of voters holds and reports the
// pending entries up to it as committed.
func (w *Watch) advance(now time.Time) {
	var buf [16]uint64
	vals := buf[:0]
	self := w.selfID()
	for _, s := range w.servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if s.ID == self {
			vals = append(vals, w.stored)
		} else {
			vals = append(vals, w.match[s.ID])
		}
	}
	if len(vals) == 0 {
		return
	}
	slices.Sort(vals)
	// With n voters, n/2+1 of them hold at least the (n/2+1)-th largest.
	q := vals[(len(vals)-1)/2]
	if q <= w.committed {
		return
	}
	w.committed = q
	w.release(q, now, true)
}

// release pops the pending entries up to idx, reporting them as committed
// at now when report is set.
func (w *Watch) release(idx uint64, now time.Time, report bool) {
	n := 0
	for n < len(w.pending) && w.pending[n].index <= idx {
		if report {
			p := w.pending[n]
			c := Committed{Index: p.index, Term: p.term, AppendedAt: p.appendedAt, At: now, Extensions: p.ext}
			for _, f := range w.onCommit {
				f(c)
			}
		}
		n++
	}
	if n > 0 {
		w.pending = slices.Delete(w.pending, 0, n)
	}
}

// stored is called after the log store durably wrote logs.
func (w *Watch) storedLogs(logs []*raft.Log) {
	leader := w.isLeader()
	var cfg *raft.Configuration
	for _, l := range logs {
		if l.Type == raft.LogConfiguration {
			c := raft.DecodeConfiguration(l.Data)
			cfg = &c
		}
	}
	if !leader && cfg == nil {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if cfg != nil {
		w.servers = cfg.Servers
	}
	if !leader || len(logs) == 0 {
		return
	}
	last := logs[len(logs)-1]
	if !w.useTerm(last.Term) {
		return
	}
	for _, l := range logs {
		if l.Type == raft.LogCommand && l.Term == w.term && len(w.pending) < maxPending {
			w.pending = append(w.pending, pendingEntry{index: l.Index, term: l.Term, appendedAt: l.AppendedAt, ext: l.Extensions})
		}
	}
	w.stored = max(w.stored, last.Index)
	w.advance(now)
}

// applying is called as the FSM starts applying l. An entry is committed
// before it is applied, so one the quorum count missed (a single-node
// cluster before its configuration is read, an entry the leader's own
// write completed last) is reported now.
func (w *Watch) applying(l *raft.Log) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 || w.pending[0].index > l.Index {
		return
	}
	// Earlier pending entries were never applied under their term: a
	// newer leader replaced them. Drop them unreported.
	n := 0
	for n < len(w.pending) && w.pending[n].index < l.Index {
		n++
	}
	w.pending = slices.Delete(w.pending, 0, n)
	if len(w.pending) > 0 && w.pending[0].index == l.Index {
		if w.pending[0].term == l.Term {
			w.release(l.Index, time.Now(), true)
		} else {
			w.release(l.Index, time.Time{}, false)
		}
	}
	if l.Term == w.term && l.Index > w.committed {
		w.committed = l.Index
	}
}

// Matches returns, while this node leads, the matched index of each other
// server that has acknowledged entries in the current term.
func (w *Watch) Matches() map[raft.ServerID]uint64 {
	if !w.isLeader() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[raft.ServerID]uint64, len(w.match))
	for _, s := range w.servers {
		if m, ok := w.match[s.ID]; ok {
			out[s.ID] = m
		}
	}
	return out
}

// Servers returns the latest configuration this node holds (nil until known).
func (w *Watch) Servers() []raft.Server {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.servers)
}

// WrapLogStore returns the log store that reports written entries.
func (w *Watch) WrapLogStore(s raft.LogStore) raft.LogStore { return &logStore{LogStore: s, w: w} }

type logStore struct {
	raft.LogStore
	w *Watch
}

func (s *logStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *logStore) StoreLogs(logs []*raft.Log) error {
	if err := s.LogStore.StoreLogs(logs); err != nil {
		return err
	}
	s.w.storedLogs(logs)
	return nil
}

// WrapFSM returns the FSM that reports entries as they start applying.
func (w *Watch) WrapFSM(f raft.FSM) raft.FSM { return &machine{FSM: f, w: w} }

type machine struct {
	raft.FSM
	w *Watch
}

func (m *machine) Apply(l *raft.Log) any {
	m.w.applying(l)
	return m.FSM.Apply(l)
}

// IsMonotonic forwards raft.MonotonicLogStore, so wrapping never changes how
// Raft treats the store after a snapshot restore.
func (s *logStore) IsMonotonic() bool {
	m, ok := s.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
