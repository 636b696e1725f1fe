// Package coordinator is the group coordinator's runtime on the Raft
// leader: what Kafka's GroupCoordinator does besides changing the groups,
// which broker/groups does through the Raft log.
//
// It keeps in the leader's memory only what need not survive the leader:
// members' heartbeats (their sessions), the rebalance timers, the members
// told MEMBER_ID_REQUIRED that have not joined yet, and the JoinGroup and
// SyncGroup requests waiting for the group to move. It proposes what those
// decide (expired sessions, a rebalance ended by its timeout, offsets past
// their retention) as commands, so every replica applies the same outcome.
// A node that gains leadership gives every member a full session timeout and
// every rebalance a full rebalance timeout, as Kafka's coordinator does when
// it loads a group; one that loses it answers every waiting request
// NOT_COORDINATOR at once.
package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/groups"
)

// Config configures the coordinator. In a raftline node it is
// server.Config.Groups.
type Config struct {
	// InitialRebalanceDelay is Kafka's group.initial.rebalance.delay.ms:
	// the first rebalance of an empty group waits this long for more
	// members, extended by each new one up to the rebalance timeout. 0 is
	// none; `raftline serve` defaults to Kafka's 3s.
	InitialRebalanceDelay time.Duration
	// OffsetsRetention is Kafka's offsets.retention.minutes (default 7
	// days; negative keeps offsets for ever).
	OffsetsRetention time.Duration
	// OffsetsRetentionCheck is how often the leader proposes an expiry of
	// old offsets, Kafka's offsets.retention.check.interval.ms (default
	// 10 minutes).
	OffsetsRetentionCheck time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound the session timeout a
	// member may ask for, Kafka's group.min.session.timeout.ms (6s) and
	// group.max.session.timeout.ms (30m).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// SweepInterval is how often sessions and rebalance timers are checked
	// and leadership is looked at (default 100ms).
	SweepInterval time.Duration
	Logger        *slog.Logger
}

// WithDefaults is c with its unset settings at their defaults: what the
// coordinator runs with.
func (c Config) WithDefaults() Config {
	c.defaults()
	return c
}

func (c *Config) defaults() {
	if c.OffsetsRetention == 0 {
		c.OffsetsRetention = 7 * 24 * time.Hour
	}
	if c.OffsetsRetentionCheck <= 0 {
		c.OffsetsRetentionCheck = 10 * time.Minute
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 6 * time.Second
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 30 * time.Minute
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 100 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Backend is what the coordinator needs of its node.
type Backend interface {
	// Leading reports whether this node leads, and the Raft term it has
	// seen: the leader is every group's coordinator, and a new term is a
	// new leadership even when this node led the one before.
	Leading() (leader bool, term uint64)
	// Barrier returns once every entry committed before it was called is
	// applied here, so a new leader answers from the whole state.
	Barrier(ctx context.Context) error
	// Propose applies c through the Raft log on this node, which must
	// lead, and returns its result. Its errors are kerr errors:
	// NOT_COORDINATOR when this node does not lead, another when the
	// outcome is unknown.
	Propose(ctx context.Context, c groups.Command) (groups.Result, error)
	// Read calls fn with the groups as applied here, under their lock.
	Read(fn func(*groups.Groups))
	// Changed is closed at the next change to the groups.
	Changed() <-chan struct{}
}

// Coordinator is one node's group coordinator. It serves while its node
// leads, and answers NOT_COORDINATOR otherwise.
type Coordinator struct {
	cfg Config
	b   Backend
	log *slog.Logger

	mu      sync.Mutex
	leading bool
	ready   bool          // the barrier after gaining leadership passed
	readyCh chan struct{} // closed when ready is set
	lost    chan struct{} // closed when leadership is lost
	epoch   uint64        // counts leadership gains
	term    uint64        // the term of the leadership held
	// sessions: when each member was last heard from, by group.
	sessions map[string]map[string]time.Time
	// waiting counts each member's requests in flight: a member waiting
	// for its join or sync to complete is alive (Kafka's shouldKeepAlive).
	waiting map[string]map[string]int
	// pending are the member ids given in MEMBER_ID_REQUIRED, by group,
	// with when they expire.
	pending map[string]map[string]time.Time
	// rebalances are the timers of groups preparing a rebalance.
	rebalances    map[string]*rebalance
	nextRetention time.Time
}

// rebalance is one group's rebalance timer: the generation it ends, when it
// began here, and when a new member last joined (the initial delay runs
// from it).
type rebalance struct {
	generation int32
	started    time.Time
	lastJoin   time.Time
}

// New returns a coordinator over b; Run drives its timers.
func New(cfg Config, b Backend) *Coordinator {
	cfg.defaults()
	return &Coordinator{cfg: cfg, b: b, log: cfg.Logger, lost: closedChan()}
}

func closedChan() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// Run checks leadership, sessions, rebalance timers and offsets retention
// every SweepInterval until ctx ends.
func (c *Coordinator) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.mu.Lock()
			c.loseLocked()
			c.mu.Unlock()
			return
		case <-t.C:
		}
		c.sweep(ctx)
	}
}

// observe brings the coordinator's idea of leadership up to date: on gaining
// it, it forgets every timer (each starts afresh, lazily, at the next sweep)
// and runs the barrier; on losing it, it wakes every waiting request.
func (c *Coordinator) observe() {
	leader, term := c.b.Leading()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case leader && (!c.leading || term != c.term):
		// Leadership lost and won again between two looks is lost
		// too: the requests waiting were answered by the old term.
		c.loseLocked()
		c.leading, c.ready, c.term = true, false, term
		c.readyCh = make(chan struct{})
		c.epoch++
		c.lost = make(chan struct{})
		c.sessions = map[string]map[string]time.Time{}
		c.waiting = map[string]map[string]int{}
		c.pending = map[string]map[string]time.Time{}
		c.rebalances = map[string]*rebalance{}
		c.nextRetention = time.Now().Add(c.cfg.OffsetsRetentionCheck)
		epoch := c.epoch
		go c.barrier(epoch)
	case !leader && c.leading:
		c.loseLocked()
	}
}

func (c *Coordinator) loseLocked() {
	if !c.leading {
		return
	}
	c.leading, c.ready = false, false
	close(c.lost)
	c.sessions, c.waiting, c.pending, c.rebalances = nil, nil, nil, nil
}

// barrier marks the coordinator ready once the new leader has applied what
// the old one committed; until then group requests are answered
// COORDINATOR_LOAD_IN_PROGRESS, as Kafka answers while it loads groups.
func (c *Coordinator) barrier(epoch uint64) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.b.Barrier(ctx)
		cancel()
		c.mu.Lock()
		if c.epoch != epoch || !c.leading {
			c.mu.Unlock()
			return
		}
		if err == nil {
			c.ready = true
			close(c.readyCh)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.log.Warn("group coordinator: waiting for the applied state after an election", "err", err)
		time.Sleep(c.cfg.SweepInterval)
	}
}

// loadWait is how long a request to a new leader waits for its barrier
// before it is answered COORDINATOR_LOAD_IN_PROGRESS: a barrier usually
// passes within a few milliseconds, sooner than a client's retry backoff.
const loadWait = 500 * time.Millisecond

// serving is nil when this node coordinates and has loaded the groups, and
// returns the channel closed when it stops leading.
func (c *Coordinator) serving() (<-chan struct{}, error) {
	c.observe()
	c.mu.Lock()
	leading, ready, readyCh, lost := c.leading, c.ready, c.readyCh, c.lost
	c.mu.Unlock()
	switch {
	case !leading:
		return nil, kerr.NotCoordinator
	case !ready:
		t := time.NewTimer(loadWait)
		defer t.Stop()
		select {
		case <-readyCh:
		case <-lost:
			return nil, kerr.NotCoordinator
		case <-t.C:
			return nil, kerr.CoordinatorLoadInProgress
		}
	}
	return lost, nil
}

// touch records that a member was heard from.
func (c *Coordinator) touch(group, member string) {
	if member == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions == nil {
		return
	}
	m := c.sessions[group]
	if m == nil {
		m = map[string]time.Time{}
		c.sessions[group] = m
	}
	m[member] = time.Now()
}

// hold keeps a member alive while one of its requests waits; the returned
// function lets go (and counts as hearing from it).
func (c *Coordinator) hold(group, member string) func() {
	c.mu.Lock()
	if c.waiting != nil {
		w := c.waiting[group]
		if w == nil {
			w = map[string]int{}
			c.waiting[group] = w
		}
		w[member]++
	}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if w := c.waiting[group]; w != nil {
			if w[member]--; w[member] <= 0 {
				delete(w, member)
			}
		}
		c.mu.Unlock()
		c.touch(group, member)
	}
}

// propose proposes a command and maps what is not a kerr error to
// COORDINATOR_NOT_AVAILABLE, which clients retry after looking the
// coordinator up again.
func (c *Coordinator) propose(ctx context.Context, cmd groups.Command) (groups.Result, error) {
	res, err := c.b.Propose(ctx, cmd)
	if err != nil {
		var ke *kerr.Error
		if !errors.As(err, &ke) {
			err = kerr.CoordinatorNotAvailable
		}
		return groups.Result{}, err
	}
	return res, nil
}

// newMemberID makes a member id as Kafka does: the client id (or the
// instance id of a static member), a dash and a random UUID.
func newMemberID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
