package raftnode

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// observedTransport decorates a raft.Transport, reporting RPCs to the
// Observer, AppendEntries outcomes to the commit tracker, whether peers that
// announced their departure still answer (departures), and remembering the
// highest commit index a leader has announced (readiness compares it with
// the applied index). On a node that is stopping it refuses leadership
// transfers (TimeoutNow) itself, before Raft sees them; on a node that
// stopped on a storage fault (halt) it refuses every RPC, both ways.
type observedTransport struct {
	raft.Transport
	obs          Observer // nil when none
	commits      *commitTracker
	departed     *departures
	stopping     *atomic.Bool
	halted       atomic.Bool
	consumer     chan raft.RPC
	closed       chan struct{}
	closeOnce    sync.Once
	leaderCommit atomic.Uint64
}

var (
	_ raft.Transport   = (*observedTransport)(nil)
	_ raft.WithClose   = (*observedTransport)(nil)
	_ raft.WithPreVote = (*observedTransport)(nil)
)

func newObservedTransport(t raft.Transport, obs Observer, commits *commitTracker, departed *departures, stopping *atomic.Bool) *observedTransport {
	o := &observedTransport{Transport: t, obs: obs, commits: commits, departed: departed, stopping: stopping,
		consumer: make(chan raft.RPC), closed: make(chan struct{})}
	go o.relay()
	return o
}

// errHalted is what a halted transport answers and returns for every RPC.
var errHalted = errors.New("raftline: node stopped on a storage fault")

// halt makes the transport refuse every RPC from now on: a node that failed
// on its disk must neither send heartbeats nor answer a leader or a
// candidate, whatever its Raft goroutines still do.
func (o *observedTransport) halt() { o.halted.Store(true) }

// relay forwards inbound RPCs to Raft after observing them, until Close.
func (o *observedTransport) relay() {
	in := o.Transport.Consumer()
	for {
		select {
		case rpc := <-in:
			if o.halted.Load() {
				rpc.Respond(nil, errHalted)
				continue
			}
			o.received(rpc.Command)
			if _, ok := rpc.Command.(*raft.TimeoutNowRequest); ok && o.stopping.Load() {
				rpc.Respond(nil, errors.New(refusedLeadership))
				continue
			}
			select {
			case o.consumer <- rpc:
			case <-o.closed:
				return
			}
		case <-o.closed:
			return
		}
	}
}

func (o *observedTransport) received(cmd any) {
	if o.departed.any() {
		if h, ok := cmd.(raft.WithRPCHeader); ok {
			o.departed.heardFrom(raft.ServerID(h.GetRPCHeader().ID))
		}
	}
	if ae, ok := cmd.(*raft.AppendEntriesRequest); ok {
		for {
			cur := o.leaderCommit.Load()
			if ae.LeaderCommitIndex <= cur || o.leaderCommit.CompareAndSwap(cur, ae.LeaderCommitIndex) {
				break
			}
		}
	}
	if o.obs != nil {
		o.obs.RPCReceived(RPCReceived{Request: cmd})
	}
}

// sent reports an RPC leaving for target and returns what takes its outcome,
// nil when nothing waits for it. The commit tracker sees an AppendEntries
// outcome before the Observer does.
func (o *observedTransport) sent(target raft.ServerID, cmd any) func(any, error) {
	var track func(any, error)
	if ae, ok := cmd.(*raft.AppendEntriesRequest); ok {
		track = o.commits.sent(target, ae)
	}
	if o.departed.any() {
		track = o.departed.track(target, track)
	}
	var done func(RPCDone)
	if o.obs != nil {
		done = o.obs.RPCSent(RPCSent{Target: target, Request: cmd})
	}
	if done == nil {
		return track
	}
	start := time.Now()
	return func(resp any, err error) {
		if track != nil {
			track(resp, err)
		}
		done(RPCDone{Response: resp, Err: err, Duration: time.Since(start)})
	}
}

func finish(done func(any, error), resp any, err error) {
	if done != nil {
		done(resp, err)
	}
}

func (o *observedTransport) Consumer() <-chan raft.RPC { return o.consumer }

func (o *observedTransport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		o.Transport.SetHeartbeatHandler(nil)
		return
	}
	o.Transport.SetHeartbeatHandler(func(rpc raft.RPC) {
		if o.halted.Load() {
			rpc.Respond(nil, errHalted)
			return
		}
		o.received(rpc.Command)
		cb(rpc)
	})
}

func (o *observedTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if o.halted.Load() {
		return errHalted
	}
	done := o.sent(id, args)
	err := o.Transport.AppendEntries(id, target, args, resp)
	finish(done, resp, err)
	return err
}

func (o *observedTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	if o.halted.Load() {
		return errHalted
	}
	done := o.sent(id, args)
	err := o.Transport.RequestVote(id, target, args, resp)
	finish(done, resp, err)
	return err
}

func (o *observedTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	if o.halted.Load() {
		return errHalted
	}
	pv, ok := o.Transport.(raft.WithPreVote)
	if !ok {
		return raft.ErrUnsupportedProtocol
	}
	done := o.sent(id, args)
	err := pv.RequestPreVote(id, target, args, resp)
	finish(done, resp, err)
	return err
}

func (o *observedTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	if o.halted.Load() {
		return errHalted
	}
	done := o.sent(id, args)
	err := o.Transport.InstallSnapshot(id, target, args, resp, data)
	finish(done, resp, err)
	return err
}

func (o *observedTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	if o.halted.Load() {
		return errHalted
	}
	done := o.sent(id, args)
	err := o.Transport.TimeoutNow(id, target, args, resp)
	finish(done, resp, err)
	return err
}

func (o *observedTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	if o.halted.Load() {
		return nil, errHalted
	}
	p, err := o.Transport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	op := &observedPipeline{AppendPipeline: p, t: o, id: id, out: make(chan raft.AppendFuture), closed: make(chan struct{})}
	go op.relay()
	return op, nil
}

func (o *observedTransport) Close() error {
	o.closeOnce.Do(func() { close(o.closed) })
	if c, ok := o.Transport.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

// observedPipeline reports pipelined AppendEntries. Completed futures are
// relayed to Raft through out after their outcome is reported; reading the
// outcome first is safe because a future's result is kept once read.
type observedPipeline struct {
	raft.AppendPipeline
	t       *observedTransport
	id      raft.ServerID
	out     chan raft.AppendFuture
	pending sync.Map // *raft.AppendEntriesRequest -> func(any, error)
	// closed ends relay when Raft closes the pipeline: Raft stops reading
	// out then, and the underlying Consumer channel is never closed.
	closed    chan struct{}
	closeOnce sync.Once
}

func (p *observedPipeline) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	return p.AppendPipeline.Close()
}

func (p *observedPipeline) AppendEntries(args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	if p.t.halted.Load() {
		return nil, errHalted
	}
	done := p.t.sent(p.id, args)
	if done != nil {
		p.pending.Store(args, done)
	}
	f, err := p.AppendPipeline.AppendEntries(args, resp)
	if err != nil {
		p.pending.Delete(args)
		finish(done, nil, err)
		return nil, err
	}
	return f, nil
}

func (p *observedPipeline) relay() {
	in := p.AppendPipeline.Consumer()
	for {
		var f raft.AppendFuture
		var ok bool
		select {
		case f, ok = <-in:
		case <-p.closed:
			return
		}
		if !ok {
			close(p.out)
			return
		}
		if done, ok := p.pending.LoadAndDelete(f.Request()); ok {
			err := f.Error()
			done.(func(any, error))(f.Response(), err)
		}
		select {
		case p.out <- f:
		case <-p.closed:
			return
		}
	}
}

func (p *observedPipeline) Consumer() <-chan raft.AppendFuture { return p.out }
