package raftnode

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Peers that said they are stopping.
//
// hashicorp/raft logs every heartbeat, append and vote request that fails to
// reach a peer at ERROR, and the elections that follow at WARN. When a node
// crashes that is what an operator must see; when it was stopped on purpose
// (Ctrl-C on `raftline dev`, a rolling restart) the same lines are noise
// that teaches operators to ignore them. So a node that stops gracefully
// tells its peers first (broker/server, POST /v1/internal/stopping), each
// peer records the announcement here, and the lines hashicorp/raft logs
// about failing to reach that peer go to DEBUG (expectedLine) while it is
// away. raftline itself logs the departure at INFO: once when announced,
// once when the peer is first found gone and once when it answers again. A
// peer that never announced anything (a crash, a kill, a network cut) is
// logged exactly as before, and RaftMemberDown fires either way.
//
// An announcement lasts until the peer is back: an RPC to it fails and a
// later one succeeds, or it sends this node an RPC after one failed (it
// restarted). A peer that announced but is never found gone, because this
// node never needed to reach it, is forgotten after announcedFor, so a
// later crash of it is logged again.
type departures struct {
	log *slog.Logger
	// count is len(peers), read without the lock on the RPC paths, which
	// skip all bookkeeping while no peer is away.
	count atomic.Int32

	mu    sync.Mutex
	peers map[raft.ServerID]*departure
}

type departure struct {
	announced time.Time
	// gone is set once an RPC to the peer failed after it announced.
	gone bool
}

// announcedFor bounds how long an announcement counts while the peer is
// never found gone. It is far longer than a node takes to stop (telling its
// peers, handing over leadership, closing Raft).
const announcedFor = time.Minute

func newDepartures(log *slog.Logger) *departures {
	return &departures{log: log, peers: map[raft.ServerID]*departure{}}
}

// any reports whether some peer is away; the RPC paths call it first.
func (d *departures) any() bool { return d.count.Load() > 0 }

// announce records that the peer said it is stopping.
func (d *departures) announce(id raft.ServerID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.peers[id]; ok && !p.gone {
		p.announced = time.Now() // announced again: still on its way out
		return
	}
	d.peers[id] = &departure{announced: time.Now()}
	d.count.Store(int32(len(d.peers)))
	d.log.Info("peer is stopping; failures to reach it are expected until it is back", "peer", string(id))
}

// away reports whether the peer announced its departure and is not back.
func (d *departures) away(id raft.ServerID) bool {
	if !d.any() {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.peers[id]
	if ok && !p.gone && time.Since(p.announced) > announcedFor {
		d.forget(id)
		return false
	}
	return ok
}

// sentTo is the outcome of an RPC this node sent to the peer.
func (d *departures) sentTo(id raft.ServerID, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.peers[id]
	switch {
	case !ok:
	case err != nil && !p.gone:
		p.gone = true
		d.log.Info("peer has stopped, as it announced", "peer", string(id))
	case err == nil && p.gone:
		d.back(id)
	}
}

// heardFrom records an RPC the peer sent this node.
func (d *departures) heardFrom(id raft.ServerID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.peers[id]; ok && p.gone {
		d.back(id)
	}
}

func (d *departures) back(id raft.ServerID) {
	d.forget(id)
	d.log.Info("peer is back", "peer", string(id))
}

func (d *departures) forget(id raft.ServerID) {
	delete(d.peers, id)
	d.count.Store(int32(len(d.peers)))
}

// track wraps done, the handler of an RPC's outcome (nil when none), so the
// outcome also tells whether target is gone or back.
func (d *departures) track(target raft.ServerID, done func(any, error)) func(any, error) {
	return func(resp any, err error) {
		if done != nil {
			done(resp, err)
		}
		d.sentTo(target, err)
	}
}
