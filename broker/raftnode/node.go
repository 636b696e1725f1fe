// Package raftnode runs one raftline node's Raft instance: the durable log
// store, the TCP transport, the snapshot store, the raft.FSM adapter around
// fsm.State, and the proposal API that broker/cluster/raftcluster (the one
// way the Kafka layer reaches Raft) writes through. What Raft does on the node (entries stored, committed and applied, RPCs, leaders,
// snapshots) is reported to one Observer, given to Open.
//
// There is one Raft group for the whole cluster and its leader leads every
// partition. Nothing here assumes that: a group per partition would be one
// Node per group sharing the transport.
package raftnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/snapstore"
)

// Sentinel errors returned at this package's boundary; callers map them to
// Kafka error codes.
var (
	ErrNotLeader = errors.New("not the raft leader")
	// ErrIndeterminate means the entry was proposed but its fate is
	// unknown (leadership lost, or the caller gave up waiting). It may
	// still commit; a client must treat the write as not acknowledged.
	ErrIndeterminate = errors.New("write outcome unknown")
	ErrShutdown      = errors.New("node is shutting down")
)

// Config configures a node. In a raftline node it is server.Config.Raft.
type Config struct {
	// NodeID is set by server.Start from Config.NodeID.
	NodeID int32
	// DataDir holds the Raft log and snapshots, in raft/; set by
	// server.Start from Config.DataDir.
	DataDir string
	// FSM says where the state machine keeps partitions: in memory, or on
	// disk in FSM.Dir (default: partitions/ in DataDir). FSM.Storage is set
	// by server.Start from Config.Storage.
	FSM fsm.Options

	Addr string // address to bind for Raft traffic
	// AdvertisedAddr is the address other members dial; Addr when
	// empty. It must be a concrete host, not 0.0.0.0.
	AdvertisedAddr string
	// Bootstrap is the initial membership; used only when DataDir holds
	// no Raft state yet.
	Bootstrap []raft.Server

	// Raft's timeouts, snapshot settings and trailing logs; zero keeps
	// hashicorp/raft's default.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration
	TrailingLogs       uint64

	// Logger is set by server.Start from Config.Logger.
	Logger *slog.Logger
	// Observer, when set, sees what Raft does on this node (see Observer);
	// telemetry subscribes through it.
	Observer Observer

	// wrapLogStore and wrapStableStore, set by tests only, wrap the
	// raft-wal store.
	wrapLogStore    func(raft.LogStore) raft.LogStore
	wrapStableStore func(raft.StableStore) raft.StableStore
}

// ServerID is the Raft server id of a Kafka node id.
func ServerID(id int32) raft.ServerID { return raft.ServerID(strconv.Itoa(int(id))) }

// NodeIDOf parses a Raft server id back into a Kafka node id.
func NodeIDOf(id raft.ServerID) (int32, bool) {
	n, err := strconv.ParseInt(string(id), 10, 32)
	return int32(n), err == nil
}

// Node is a running Raft member.
type Node struct {
	cfg   Config
	log   *slog.Logger
	raft  *raft.Raft
	State *fsm.State
	store *logStore
	trans *raft.NetworkTransport
	// transport wraps trans; Raft talks through it.
	transport *observedTransport
	stored    *storeNotifier
	fsm       *adapter
	commits   *commitTracker
	leaders   *leaderWatch // nil without an Observer
	caughtUp  *catchUp
	dir       string
	// departed holds the peers that announced they are stopping.
	departed *departures
	// stopping is set by BeginStop: the node is on its way out.
	stopping atomic.Bool
	// running is set while Raft runs: storage failures are faults then
	// (fault.go), and Open's errors before.
	running atomic.Bool
	// fault is the storage fault that stopped the node; halted is closed
	// once it has (failStop).
	fault  atomic.Pointer[StorageFault]
	halted chan struct{}
	watch  *dirWatch

	closeOnce sync.Once
	closeErr  error
}

// Open starts a node.
func Open(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir := filepath.Join(cfg.DataDir, "raft")
	if cfg.FSM.Storage == fsm.Disk && cfg.FSM.Dir == "" {
		cfg.FSM.Dir = filepath.Join(cfg.DataDir, "partitions")
	}
	state, err := fsm.Open(cfg.FSM)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, State: state, dir: dir, departed: newDepartures(cfg.Logger), halted: make(chan struct{})}

	hl := newHCLogger("raft", cfg.Logger, n.expectedLine)
	w, err := openLogStore(dir, hl.Named("wal"))
	if err != nil {
		state.Close()
		return nil, err
	}
	n.store = w
	snapLog := hl.Named("snapshots")
	snaps, err := snapstore.New(filepath.Join(dir, "snapshots"), 2, snapLog.Warn)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	if n.watch, err = newDirWatch(n, cfg.DataDir, dir, filepath.Join(dir, "wal")); err != nil {
		n.closeStores()
		return nil, err
	}
	adv := cfg.AdvertisedAddr
	if adv == "" {
		adv = cfg.Addr
	}
	addr, err := net.ResolveTCPAddr("tcp", adv)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("raft address %q: %w", adv, err)
	}
	trans, err := raft.NewTCPTransportWithLogger(cfg.Addr, addr, 3, 10*time.Second, hl.Named("transport"))
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("listen for raft on %s: %w", cfg.Addr, err)
	}
	n.trans = trans

	rc := raft.DefaultConfig()
	rc.LocalID = ServerID(cfg.NodeID)
	rc.Logger = hl
	setDur(&rc.HeartbeatTimeout, cfg.HeartbeatTimeout)
	setDur(&rc.ElectionTimeout, cfg.ElectionTimeout)
	setDur(&rc.LeaderLeaseTimeout, cfg.LeaderLeaseTimeout)
	setDur(&rc.CommitTimeout, cfg.CommitTimeout)
	setDur(&rc.SnapshotInterval, cfg.SnapshotInterval)
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	// Larger append batches carry more produce entries per RPC and fsync.
	rc.MaxAppendEntries = 256

	var onCommit func(EntryCommitted)
	if cfg.Observer != nil {
		onCommit = cfg.Observer.EntryCommitted
	}
	n.commits = newCommitTracker(rc.LocalID, onCommit)

	var logs raft.LogStore = w
	if cfg.wrapLogStore != nil {
		logs = cfg.wrapLogStore(logs)
	}
	n.stored = &storeNotifier{LogStore: logs, commits: n.commits, obs: cfg.Observer, node: n, dir: filepath.Join(dir, "wal")}
	// The cache serves recent entries to replication from memory instead
	// of reading them back from the WAL. An entry can be a whole partition
	// batch (1 MiB by clients' defaults), so the cache is kept small.
	logs, err = raft.NewLogCache(256, n.stored)
	if err != nil {
		n.closeStores()
		return nil, err
	}
	n.transport = newObservedTransport(trans, cfg.Observer, n.commits, n.departed, &n.stopping)
	n.fsm = &adapter{state: n.State, snaps: snaps, log: n.log, commits: n.commits, obs: cfg.Observer,
		fault: func(op StorageOp, path string, err error) {
			if path == "" {
				path = cfg.FSM.Dir
			}
			n.storageFault(op, path, err)
		}}

	existing, err := raft.HasExistingState(w, w, snaps)
	if err != nil {
		n.closeStores()
		return nil, err
	}
	if !existing && len(cfg.Bootstrap) > 0 {
		if err := raft.BootstrapCluster(rc, w, w, snaps, trans, raft.Configuration{Servers: cfg.Bootstrap}); err != nil {
			n.closeStores()
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
	} else if existing && len(cfg.Bootstrap) > 0 {
		n.log.Info("data directory holds raft state; ignoring --bootstrap")
	}
	stable := stableStore{StableStore: w, node: n, path: filepath.Join(dir, "wal")}
	if cfg.wrapStableStore != nil {
		stable.StableStore = cfg.wrapStableStore(w)
	}
	r, err := newRaft(rc, n.fsm, logs, stable, snapshotStore{SnapshotStore: snaps, node: n, dir: filepath.Join(dir, "snapshots")}, n.transport)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("start raft in %s: %w", dir, err)
	}
	n.raft = r
	n.running.Store(true)
	n.watch.start(dirWatchInterval)
	n.commits.attach(r)
	if cfg.Observer != nil {
		n.leaders = watchLeaders(r, cfg.Observer)
	}
	n.caughtUp = watchCatchUp(r, ServerID(cfg.NodeID))
	return n, nil
}

func setDur(dst *time.Duration, v time.Duration) {
	if v > 0 {
		*dst = v
	}
}

// newRaft is raft.NewRaft, except that a log it cannot read becomes an
// error. hashicorp/raft panics when an entry between the snapshot and the
// end of the log cannot be read at start-up; an operator should get one line
// naming the data directory, not a goroutine dump. The panic comes before
// Raft starts any goroutine, so recovering leaves nothing running.
func newRaft(conf *raft.Config, fsm raft.FSM, logs raft.LogStore, stable raft.StableStore, snaps raft.SnapshotStore, trans raft.Transport) (r *raft.Raft, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("the raft log cannot be read (%v); the data directory may be damaged", p)
		}
	}()
	return raft.NewRaft(conf, fsm, logs, stable, snaps, trans)
}

// closeStores closes what Open opened: the transport, the Raft log store
// and the state machine's partitions.
func (n *Node) closeStores() error {
	if n.watch != nil {
		n.watch.close()
	}
	if n.transport != nil {
		n.transport.Close()
	} else if n.trans != nil {
		n.trans.Close()
	}
	return errors.Join(n.store.Close(), n.State.Close())
}

// Raft exposes the underlying Raft instance for observers and stats.
func (n *Node) Raft() *raft.Raft { return n.raft }

// ID is this node's id.
func (n *Node) ID() int32 { return n.cfg.NodeID }

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderCaughtUp reports whether this node leads and has applied every
// entry committed before its term began, so that its partitions hold every
// record a client was acknowledged (caughtup.go). A leader is briefly not,
// after its election.
func (n *Node) LeaderCaughtUp() bool { return n.caughtUp.current() }

// Leader returns the id of the leader this node knows, or -1.
func (n *Node) Leader() int32 {
	_, id := n.raft.LeaderWithID()
	if nid, ok := NodeIDOf(id); ok && id != "" {
		return nid
	}
	return -1
}

// Ready reports whether the node knows a leader and has applied everything
// committed: on the leader its commit index; on a follower the commit index
// the leader last announced, so a follower still catching up is not ready.
// A node that failed on its disk (Fault) is never ready.
func (n *Node) Ready() bool {
	if n.Fault() != nil || n.Leader() < 0 {
		return false
	}
	applied := n.raft.AppliedIndex()
	if n.IsLeader() {
		return n.LeaderCaughtUp() && applied >= n.raft.CommitIndex()
	}
	announced := n.transport.leaderCommit.Load()
	return announced > 0 && applied >= announced
}

// Member is one server in the Raft configuration.
type Member struct {
	ID       int32
	RaftAddr string
	Voter    bool
}

// Members returns the current Raft configuration.
func (n *Node) Members() ([]Member, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []Member
	for _, s := range f.Configuration().Servers {
		id, _ := NodeIDOf(s.ID)
		out = append(out, Member{ID: id, RaftAddr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// Proposal is a command on its way through Raft.
type Proposal struct {
	future raft.ApplyFuture
	stored chan struct{}
	done   chan struct{}
	result fsm.ApplyResult
	err    error
}

// Stored is closed once the entry is in this (the leader's) log store, which
// is what acks=1 waits for. It is also closed when the proposal ends.
func (p *Proposal) Stored() <-chan struct{} { return p.stored }

// Done is closed when the entry is applied or has failed.
func (p *Proposal) Done() <-chan struct{} { return p.done }

// Result is valid after Done is closed.
func (p *Proposal) Result() (fsm.ApplyResult, error) { return p.result, p.err }

// Propose submits a command with optional extensions (a trace context) and
// returns at once. Proposals from one goroutine enter the log in call order.
func (n *Node) Propose(c fsm.Command, extensions []byte) *Proposal {
	p := &Proposal{stored: make(chan struct{}), done: make(chan struct{})}
	data, err := fsm.Encode(c)
	if err == nil {
		err = n.refused()
	}
	if err != nil {
		p.err = err
		close(p.stored)
		close(p.done)
		return p
	}
	key := n.stored.watch(data, p.stored)
	p.future = n.raft.ApplyLog(raft.Log{Data: data, Extensions: extensions}, 5*time.Second)
	go func() {
		defer close(p.done)
		err := p.future.Error()
		n.stored.unwatch(key, p.stored)
		switch {
		case err == nil:
			p.result, _ = p.future.Response().(fsm.ApplyResult)
		case errors.Is(err, raft.ErrNotLeader):
			p.err = ErrNotLeader
		case errors.Is(err, raft.ErrRaftShutdown):
			p.err = ErrShutdown
		case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
			p.err = fmt.Errorf("%w: %v", ErrIndeterminate, err)
		case errors.Is(err, raft.ErrEnqueueTimeout):
			p.err = ErrNotLeader
		default:
			p.err = fmt.Errorf("%w: %v", ErrIndeterminate, err)
		}
		// A node that failed on its disk acknowledges nothing from then
		// on, not even an entry it saw applied: its answer would be sent
		// after the fault.
		if ferr := n.refused(); ferr != nil {
			p.result, p.err = fsm.ApplyResult{}, ferr
		}
	}()
	return p
}

// Apply proposes a command and waits for it to be applied, or for ctx.
func (n *Node) Apply(ctx context.Context, c fsm.Command) (fsm.ApplyResult, error) {
	p := n.Propose(c, nil)
	select {
	case <-p.Done():
		return p.Result()
	case <-ctx.Done():
		return fsm.ApplyResult{}, fmt.Errorf("%w: %v", ErrIndeterminate, ctx.Err())
	}
}

// BeginStop marks the node as stopping, ahead of Close: from now on it
// refuses to take leadership over (a transfer to a node on its way out would
// only be undone), it tells peers that ask that it is stopping, and what
// hashicorp/raft logs about peers it can no longer reach is logged at DEBUG
// (expectedLine). broker/server calls it before announcing the stop to the
// peers, so that two nodes stopping together each learn the other's state.
func (n *Node) BeginStop() { n.stopping.Store(true) }

// Stopping reports whether BeginStop or Close was called.
func (n *Node) Stopping() bool { return n.stopping.Load() }

// PeerStopping records that the member with the id announced it is stopping
// (broker/server's POST /v1/internal/stopping): failures to reach it are
// then expected until it is back, and Close does not hand leadership to it.
// An id that is this node or not a member is an error.
func (n *Node) PeerStopping(id int32) error {
	sid := ServerID(id)
	if sid == n.commits.self {
		return fmt.Errorf("node %d is this node", id)
	}
	for _, s := range n.commits.configuration() {
		if s.ID == sid {
			n.departed.announce(sid)
			return nil
		}
	}
	return fmt.Errorf("node %d is not a member of the cluster", id)
}

// Close leaves the cluster gracefully: a leader first hands leadership to a
// follower that is not stopping too, so clients see only a short gap, then
// Raft and the stores stop.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.BeginStop()
		if n.IsLeader() {
			n.handOver()
		}
		n.closeErr = n.raft.Shutdown().Error()
		n.running.Store(false)
		n.leaders.close()
		n.caughtUp.close()
		if err := n.closeStores(); err != nil && n.closeErr == nil {
			n.closeErr = err
		}
	})
	return n.closeErr
}

// refusedLeadership is the error a stopping node answers a leadership
// transfer (TimeoutNow) with; the leader that sent it tries another voter.
const refusedLeadership = "raftline: not taking leadership over: the node is stopping"

// handOver transfers leadership, before shutdown, to the most up-to-date
// voter that has not announced it is stopping. A whole cluster stopping at
// once (Ctrl-C on `raftline dev`) has no such voter, and handing over to a
// node that is itself going would fail or leave a leader that vanishes at
// once, so the leader then just stops. A target found stopping during the
// transfer (it refused, or announced it meanwhile) is reported at INFO and
// the next one is tried; any other failure is a WARN, since clients then
// wait for an election.
func (n *Node) handOver() {
	tried := map[raft.ServerID]bool{}
	for n.IsLeader() {
		target, others := n.transferTarget(tried)
		if target == nil {
			if others > 0 {
				n.log.Info("not handing over leadership: every other voter is stopping too")
			}
			return
		}
		tried[target.ID] = true
		err := n.transferTo(*target)
		if err == nil {
			n.log.Info("transferred leadership before shutdown", "to", string(target.ID))
			return
		}
		if strings.Contains(err.Error(), refusedLeadership) {
			n.departed.announce(target.ID)
		}
		if !n.departed.away(target.ID) {
			n.log.Warn("leadership transfer before shutdown failed", "to", string(target.ID), "err", err)
			return
		}
		n.log.Info("not handing over leadership to a node that is stopping too", "to", string(target.ID), "err", err)
	}
}

// transferTarget picks the voter to hand leadership to: not this node, not
// tried, not stopping, and holding the most of the log; nil when there is
// none. others counts the voters besides this node.
func (n *Node) transferTarget(tried map[raft.ServerID]bool) (target *raft.Server, others int) {
	matches := n.commits.matches()
	for _, s := range n.commits.configuration() {
		if s.ID == n.commits.self || s.Suffrage != raft.Voter {
			continue
		}
		others++
		if tried[s.ID] || n.departed.away(s.ID) {
			continue
		}
		if target == nil || matches[s.ID] > matches[target.ID] {
			target = &s
		}
	}
	return target, others
}

// transferTo hands leadership to target. Raft refuses a transfer while the
// previous one is still being wound down, briefly after its future returned,
// so that refusal is retried for at most an election timeout.
func (n *Node) transferTo(target raft.Server) error {
	deadline := time.Now().Add(n.raft.ReloadableConfig().ElectionTimeout)
	for {
		err := n.raft.LeadershipTransferToServer(target.ID, target.Address).Error()
		if !errors.Is(err, raft.ErrLeadershipTransferInProgress) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Kill stops the node without a leadership transfer, as a crash would (the
// in-process test harness uses it).
func (n *Node) Kill() error {
	n.closeOnce.Do(func() {
		n.closeErr = n.raft.Shutdown().Error()
		n.running.Store(false)
		n.leaders.close()
		n.caughtUp.close()
		n.closeStores()
	})
	return n.closeErr
}

// Snapshot forces a snapshot and log compaction now.
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// FirstIndex is the first index still in the Raft log store; it moves up as
// snapshots compact the log.
func (n *Node) FirstIndex() (uint64, error) { return n.store.FirstIndex() }

// SnapshotsRestored counts snapshots restored into the FSM since start: at
// start-up from the local store, or sent by the leader (InstallSnapshot).
func (n *Node) SnapshotsRestored() int64 { return n.fsm.restores.Load() }

// LogDir is the directory holding the Raft log and snapshots, for size metrics.
func (n *Node) LogDir() string { return n.dir }

// OldestAppendInFlight is how long the oldest log store write still running
// (StoreLogs, with its fsync) has been running, 0 when none is. Read at
// scrape time, it shows a disk that hangs while it hangs.
func (n *Node) OldestAppendInFlight() time.Duration {
	if n.stored == nil {
		return 0
	}
	return n.stored.oldestInFlight()
}

// LogEntries is the number of entries in the Raft log store (last index -
// first index + 1; 0 when empty).
func (n *Node) LogEntries() uint64 {
	first, err1 := n.store.FirstIndex()
	last, err2 := n.store.LastIndex()
	if err1 != nil || err2 != nil || last == 0 || last < first {
		return 0
	}
	return last - first + 1
}

// FollowerMatches returns, while this node leads, the highest log index
// each follower in the configuration is known to hold: the last entry of
// its latest successful AppendEntries in the current term. Followers that
// acknowledged nothing yet in this term are absent; it is nil on a node
// that does not lead.
func (n *Node) FollowerMatches() map[raft.ServerID]uint64 { return n.commits.matches() }

// Configuration returns the latest Raft configuration this node holds,
// committed or not: read as Raft starts, then followed through the
// configuration entries its log store writes.
func (n *Node) Configuration() []raft.Server { return n.commits.configuration() }
