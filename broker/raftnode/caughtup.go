package raftnode

import (
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// A newly elected leader holds every committed entry in its log, but
// hashicorp/raft applies the entries of earlier terms only once an entry of
// the new term commits. Until its FSM has applied them, the leader's
// partitions end below offsets clients have already read and been
// acknowledged by the previous leader: a Fetch there is answered
// OFFSET_OUT_OF_RANGE, and a consumer resets its position (to the start,
// reading everything again, or to the end, skipping what was written in
// between). catchUp tells the node when its reads are current: on each
// leadership it gains it issues a barrier, which returns once everything
// before it is applied, and records the term it was issued in.
type catchUp struct {
	r    *raft.Raft
	self raft.ServerID
	term atomic.Uint64 // the term whose barrier returned while leading
	ro   *raft.Observer
	stop chan struct{}
	done chan struct{}
}

func watchCatchUp(r *raft.Raft, self raft.ServerID) *catchUp {
	c := &catchUp{r: r, self: self, stop: make(chan struct{}), done: make(chan struct{})}
	ch := make(chan raft.Observation, 16)
	c.ro = raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(c.ro)
	go c.run(ch)
	return c
}

func (c *catchUp) run(ch <-chan raft.Observation) {
	defer close(c.done)
	// A leadership gained before the observer was in place.
	if _, id := c.r.LeaderWithID(); id == c.self {
		c.barrier()
	}
	for {
		select {
		case o := <-ch:
			if lo, ok := o.Data.(raft.LeaderObservation); ok && lo.LeaderID == c.self {
				c.barrier()
			}
		case <-c.stop:
			return
		}
	}
}

// barrier waits for everything committed before it to be applied and then
// records the term, unless leadership moved meanwhile. It runs on the
// watcher's goroutine: a leader has nothing else to catch up on until it
// returns, and a lost leadership fails it at once.
func (c *catchUp) barrier() {
	term := c.r.CurrentTerm()
	if c.r.State() != raft.Leader || c.term.Load() == term {
		return
	}
	if err := c.r.Barrier(0).Error(); err != nil {
		return
	}
	if c.r.State() == raft.Leader && c.r.CurrentTerm() == term {
		c.term.Store(term)
	}
}

// current reports whether the node leads and has applied everything
// committed before its term.
func (c *catchUp) current() bool {
	return c != nil && c.r.State() == raft.Leader && c.term.Load() == c.r.CurrentTerm()
}

func (c *catchUp) close() {
	if c == nil {
		return
	}
	select {
	case <-c.stop:
	default:
		close(c.stop)
		c.r.DeregisterObserver(c.ro)
	}
	<-c.done
}
