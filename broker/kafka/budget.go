package kafka

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Budgets bound the request bytes the listener holds: bytes of frames being
// read and of requests read whose handling has not finished. Responses are
// not counted; they are bounded by MaxInflight per connection and by the
// frame timeout on each write.
//
// Two scopes, two policies:
//
//   - A connection (connBudget) that has requests in flight and declares a
//     frame that would take it past its limit stops being read until its
//     own requests finish. This is Kafka's socket server, which mutes a
//     channel while its request is being handled: the client sees TCP
//     backpressure and nobody else is affected. A lone frame on a
//     connection is always admitted; MaxFrameBytes bounds it.
//   - The node (nodeBudget) charges a frame's bytes as they arrive, a chunk
//     at a time. A frame that needs more when the node is at its limit
//     waits, as Kafka's queued.max.request.bytes does by muting reads until
//     memory is released. Waiting alone would let a few clients that sent
//     part of a frame and stopped hold the whole budget, and every honest
//     request behind them, until their frame timeout. So while a frame
//     waits, the budget closes connections whose frame has received nothing
//     for a second, most silent first, the way nats-server closes a client
//     that lets its max_pending buffer fill instead of holding the memory
//     for it. A frame that waits longer than its frame timeout is closed.
//
// Both count their waits and closures (Observer.BudgetWaited,
// Observer.Rejected with ReasonBudget).

// Scopes of Observer.BudgetWaited: which budget a request waited on.
const (
	BudgetScopeConnection = "connection"
	BudgetScopeNode       = "node"
)

// BudgetScopes lists the scopes Observer.BudgetWaited reports.
func BudgetScopes() []string { return []string{BudgetScopeConnection, BudgetScopeNode} }

// errBudget is returned when a frame could not get room in the node budget
// before its deadline, or its connection was closed to make room for others.
var errBudget = errors.New("request bytes budget exhausted")

// silentFor is how long a frame being read must have received nothing
// before the node budget may close its connection to make room. Clients
// write a request in one go, so a second of silence mid-frame means a
// stalled or abandoned one; one closed wrongly reconnects and retries.
const silentFor = time.Second

// nodeBudget bounds the request bytes held by every connection of a
// listener. See the package notes above.
type nodeBudget struct {
	limit   int64
	silence time.Duration // see silentFor
	// inflight reports each change of used, for metrics.
	inflight func(delta int64)
	// released is told, without blocking, when releases brought used down
	// to at most half of its peak after at least returnAfter bytes were
	// held (see Listener.returnMemory).
	released    chan<- struct{}
	returnAfter int64

	mu      sync.Mutex
	used    int64
	peak    int64 // highest used since released was last told
	wake    chan struct{}
	reading map[*frameHold]struct{} // frames being read that hold bytes
}

func newNodeBudget(limit int64, inflight func(int64), released chan<- struct{}, returnAfter int64) *nodeBudget {
	return &nodeBudget{limit: limit, silence: silentFor, inflight: inflight, released: released,
		returnAfter: returnAfter, wake: make(chan struct{}), reading: map[*frameHold]struct{}{}}
}

// frameHold is the node budget's record of one frame being read.
type frameHold struct {
	b       *nodeBudget
	close   func()       // closes the frame's connection
	last    atomic.Int64 // unix nanoseconds of the last byte received
	n       int64        // bytes held; guarded by b.mu
	waiting bool         // in acquire; guarded by b.mu
	evicted bool         // its connection was closed to make room; guarded by b.mu
}

// hold starts the record of a frame being read on a connection that close
// closes.
func (b *nodeBudget) hold(close func()) *frameHold {
	h := &frameHold{b: b, close: close}
	h.progress()
	return h
}

// progress records that bytes of the frame arrived.
func (h *frameHold) progress() { h.last.Store(time.Now().UnixNano()) }

// acquire takes n more bytes for the frame, waiting while the node is at its
// limit (and closing silent frames' connections to make room) until the
// deadline or until done is closed. waited is called once if it had to wait.
// It returns errBudget when the deadline passed or the frame itself was
// closed to make room.
func (h *frameHold) acquire(n int64, deadline time.Time, done <-chan struct{}, waited func()) error {
	b := h.b
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var expired <-chan time.Time
	if !deadline.IsZero() {
		timer = time.NewTimer(time.Until(deadline))
		expired = timer.C
	}
	first := true
	for {
		b.mu.Lock()
		if h.evicted {
			b.mu.Unlock()
			return errBudget
		}
		if b.used+n <= b.limit {
			b.used += n
			b.peak = max(b.peak, b.used)
			h.n += n
			b.reading[h] = struct{}{}
			b.mu.Unlock()
			b.inflight(n)
			return nil
		}
		victims, next := b.evictLocked(h, b.used+n-b.limit)
		h.waiting = true
		wake := b.wake
		b.mu.Unlock()
		for _, v := range victims {
			v.close()
		}
		if first {
			first = false
			waited()
		}
		var eligible <-chan time.Time
		var nextTimer *time.Timer
		if !next.IsZero() {
			nextTimer = time.NewTimer(time.Until(next))
			eligible = nextTimer.C
		}
		var err error
		select {
		case <-wake:
		case <-eligible:
		case <-expired:
			err = errBudget
		case <-done:
			err = errBudget
		}
		if nextTimer != nil {
			nextTimer.Stop()
		}
		b.mu.Lock()
		h.waiting = false
		b.mu.Unlock()
		// Time spent waiting here is the node's doing, not the client's
		// silence.
		h.progress()
		if err != nil {
			return err
		}
	}
}

// evictLocked marks frames for closing to make room for need bytes: those
// not waiting themselves and silent for b.silence, most silent first,
// counting bytes already marked. It returns them, to be closed after the
// lock is released, and the earliest time another frame becomes silent
// enough (zero when none will).
func (b *nodeBudget) evictLocked(self *frameHold, need int64) (victims []*frameHold, next time.Time) {
	var candidates []*frameHold
	for h := range b.reading {
		if h.evicted {
			need -= h.n
			continue
		}
		if h != self && !h.waiting && h.n > 0 {
			candidates = append(candidates, h)
		}
	}
	if need <= 0 {
		return nil, time.Time{}
	}
	slices.SortFunc(candidates, func(x, y *frameHold) int {
		lx, ly := x.last.Load(), y.last.Load()
		if lx < ly {
			return -1
		}
		if lx > ly {
			return 1
		}
		return 0
	})
	cutoff := time.Now().Add(-b.silence).UnixNano()
	for _, h := range candidates {
		last := h.last.Load()
		if last > cutoff {
			if t := time.Unix(0, last).Add(b.silence); next.IsZero() || t.Before(next) {
				next = t
			}
			continue
		}
		if need <= 0 {
			break
		}
		h.evicted = true
		need -= h.n
		victims = append(victims, h)
	}
	return victims, next
}

// wasEvicted reports whether the frame's connection was closed to make room.
func (h *frameHold) wasEvicted() bool {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	return h.evicted
}

// done ends the frame's reading and returns the bytes it holds, which the
// caller now owns and gives back with release once the request is handled.
// A frame that is done can no longer be closed to make room.
func (h *frameHold) done() int64 {
	b := h.b
	b.mu.Lock()
	n := h.n
	h.n = 0
	delete(b.reading, h)
	b.mu.Unlock()
	return n
}

// abort ends a frame that will not be handled and releases its bytes.
func (h *frameHold) abort() { h.b.release(h.done()) }

// release gives back n bytes and wakes every waiting frame.
func (b *nodeBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	drained := b.peak >= b.returnAfter && b.used <= b.peak/2
	if drained {
		b.peak = b.used
	}
	b.mu.Unlock()
	b.inflight(-n)
	if drained && b.released != nil {
		select {
		case b.released <- struct{}{}:
		default:
		}
	}
}

// connBudget bounds the request bytes one connection has read and not yet
// handled. Only the connection's reading goroutine waits on it.
type connBudget struct {
	limit int64
	mu    sync.Mutex
	held  int64
	wake  chan struct{}
}

func newConnBudget(limit int64) *connBudget {
	return &connBudget{limit: limit, wake: make(chan struct{})}
}

// admit waits until a frame of n bytes fits: the connection holds nothing,
// or held+n is within the limit. It reports whether it had to wait, and
// false in ok when done was closed first.
func (c *connBudget) admit(n int64, done <-chan struct{}) (waited, ok bool) {
	for {
		c.mu.Lock()
		if c.held == 0 || c.held+n <= c.limit {
			c.mu.Unlock()
			return waited, true
		}
		wake := c.wake
		c.mu.Unlock()
		waited = true
		select {
		case <-wake:
		case <-done:
			return waited, false
		}
	}
}

// add charges n bytes of a request read on the connection.
func (c *connBudget) add(n int64) {
	c.mu.Lock()
	c.held += n
	c.mu.Unlock()
}

// release gives back n bytes once their request is handled.
func (c *connBudget) release(n int64) {
	c.mu.Lock()
	c.held -= n
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
}

// busy reports whether the connection has requests read and not handled.
func (c *connBudget) busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held > 0
}
