package raftnode

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// maxPending bounds the entries waiting for a quorum; past it new entries go
// untracked (they still commit, only their commit is not reported).
const maxPending = 1 << 16

// raftState is what the commit tracker reads from the running Raft
// (*raft.Raft).
type raftState interface {
	State() raft.RaftState
	GetConfiguration() raft.ConfigurationFuture
}

type pendingEntry struct {
	index, term uint64
	appendedAt  time.Time
	ext         []byte
}

// commitTracker follows replication on this node from the places where it
// happens: the entries the log store writes and the AppendEntries responses
// the transport sees. While the node leads it knows each follower's matched
// index and the moment each entry this leader appended reached a quorum of
// voters, which hashicorp/raft does not report per entry: the highest index
// held by a quorum (the leader's own durable write counting for the leader,
// each follower's last successful AppendEntries for it) is committed, the
// rule Raft itself applies on the leader. Entries are tracked per leadership
// term; a new term resets them. An entry the count missed is reported as
// the FSM starts applying it: nothing is applied before it commits.
type commitTracker struct {
	self raft.ServerID
	// onCommit, when set, is called for each entry reported committed,
	// under mu: it must be quick and must not call the tracker.
	onCommit func(EntryCommitted)
	src      atomic.Pointer[raftState]

	mu        sync.Mutex
	term      uint64
	servers   []raft.Server // latest configuration, committed or not
	match     map[raft.ServerID]uint64
	stored    uint64 // highest index this leader has durably stored
	committed uint64
	pending   []pendingEntry // ascending index
}

func newCommitTracker(self raft.ServerID, onCommit func(EntryCommitted)) *commitTracker {
	return &commitTracker{self: self, onCommit: onCommit, match: map[raft.ServerID]uint64{}}
}

// attach points the tracker at the running Raft and reads its
// configuration (GetConfiguration does not wait on Raft's loop).
func (c *commitTracker) attach(src raftState) {
	c.src.Store(&src)
	f := src.GetConfiguration()
	if f.Error() != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.servers == nil {
		cfg := f.Configuration()
		c.servers = cfg.Clone().Servers
	}
}

func (c *commitTracker) isLeader() bool {
	src := c.src.Load()
	return src != nil && (*src).State() == raft.Leader
}

// sent is called as an AppendEntries leaves for a follower; the function
// it returns takes the response, which moves the follower's matched index
// when it succeeded. It returns nil for a request that says nothing about
// the follower's log (a heartbeat).
func (c *commitTracker) sent(target raft.ServerID, req *raft.AppendEntriesRequest) func(resp any, err error) {
	idx := req.PrevLogEntry
	if n := len(req.Entries); n > 0 {
		idx = req.Entries[n-1].Index
	}
	if idx == 0 {
		return nil
	}
	term := req.Term
	return func(resp any, err error) {
		if r, ok := resp.(*raft.AppendEntriesResponse); ok && err == nil && r.Success {
			c.matched(term, target, idx)
		}
	}
}

func (c *commitTracker) matched(term uint64, id raft.ServerID, idx uint64) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.useTerm(term) {
		return
	}
	if idx > c.match[id] {
		c.match[id] = idx
	}
	c.advance(now)
}

// useTerm moves to a newer leadership term, forgetting what was tracked
// under the old one, and reports whether term is current.
func (c *commitTracker) useTerm(term uint64) bool {
	if term < c.term {
		return false
	}
	if term > c.term {
		c.term, c.stored, c.committed = term, 0, 0
		clear(c.match)
		c.pending = c.pending[:0]
	}
	return true
}

// advance finds the highest index a quorum of voters holds and reports the
// pending entries up to it as committed.
func (c *commitTracker) advance(now time.Time) {
	var buf [16]uint64
	vals := buf[:0]
	for _, s := range c.servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if s.ID == c.self {
			vals = append(vals, c.stored)
		} else {
			vals = append(vals, c.match[s.ID])
		}
	}
	if len(vals) == 0 {
		return
	}
	slices.Sort(vals)
	// With n voters, n/2+1 of them hold at least the (n/2+1)-th largest.
	q := vals[(len(vals)-1)/2]
	if q <= c.committed {
		return
	}
	c.committed = q
	c.release(q, now, true)
}

// release pops the pending entries up to idx, reporting them as committed
// at now when report is set.
func (c *commitTracker) release(idx uint64, now time.Time, report bool) {
	n := 0
	for n < len(c.pending) && c.pending[n].index <= idx {
		if report && c.onCommit != nil {
			p := c.pending[n]
			c.onCommit(EntryCommitted{Index: p.index, Term: p.term, AppendedAt: p.appendedAt, At: now, Extensions: p.ext})
		}
		n++
	}
	if n > 0 {
		c.pending = slices.Delete(c.pending, 0, n)
	}
}

// storedLogs is called after the log store durably wrote logs.
func (c *commitTracker) storedLogs(logs []*raft.Log) {
	leader := c.isLeader()
	var cfg *raft.Configuration
	for _, l := range logs {
		if l.Type == raft.LogConfiguration {
			dc := raft.DecodeConfiguration(l.Data)
			cfg = &dc
		}
	}
	if !leader && cfg == nil {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg != nil {
		c.servers = cfg.Servers
	}
	if !leader || len(logs) == 0 {
		return
	}
	last := logs[len(logs)-1]
	if !c.useTerm(last.Term) {
		return
	}
	if c.onCommit != nil {
		for _, l := range logs {
			if l.Type == raft.LogCommand && l.Term == c.term && len(c.pending) < maxPending {
				c.pending = append(c.pending, pendingEntry{index: l.Index, term: l.Term, appendedAt: l.AppendedAt, ext: l.Extensions})
			}
		}
	}
	c.stored = max(c.stored, last.Index)
	c.advance(now)
}

// applying is called as the FSM starts applying l. An entry is committed
// before it is applied, so one the quorum count missed (a single-node
// cluster before its configuration is read, an entry the leader's own write
// completed last) is reported now.
func (c *commitTracker) applying(l *raft.Log) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 || c.pending[0].index > l.Index {
		return
	}
	// Earlier pending entries were never applied under their term: a newer
	// leader replaced them. Drop them unreported.
	n := 0
	for n < len(c.pending) && c.pending[n].index < l.Index {
		n++
	}
	c.pending = slices.Delete(c.pending, 0, n)
	if len(c.pending) > 0 && c.pending[0].index == l.Index {
		if c.pending[0].term == l.Term {
			c.release(l.Index, time.Now(), true)
		} else {
			c.release(l.Index, time.Time{}, false)
		}
	}
	if l.Term == c.term && l.Index > c.committed {
		c.committed = l.Index
	}
}

// matches returns, while this node leads, the matched index of each other
// server in the configuration that has acknowledged entries in the current
// term.
func (c *commitTracker) matches() map[raft.ServerID]uint64 {
	if !c.isLeader() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[raft.ServerID]uint64, len(c.match))
	for _, s := range c.servers {
		if m, ok := c.match[s.ID]; ok {
			out[s.ID] = m
		}
	}
	return out
}

// configuration returns the latest configuration this node holds (nil
// until known).
func (c *commitTracker) configuration() []raft.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.servers)
}
