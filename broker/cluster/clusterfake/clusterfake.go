// Package clusterfake is an in-memory stand-in for
// broker/cluster/raftcluster: one node's replicated state behind the cluster
// contract with Raft taken out. It is raftcluster's own Cluster — the reads
// (raftcluster.View) and the whole write path: command building, the one
// time stamp, result and error handling — run on a raftcluster.Node held in
// memory that applies each entry to the state machine the moment it is
// proposed. So tests of the Kafka handlers drive real requests through the
// real read and write paths and state machine in milliseconds.
package clusterfake

import (
	"context"
	"fmt"
	"sync"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/cluster/raftcluster"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/groups/coordinator"
)

// Cluster is the fake: raftcluster.Cluster on an in-memory node. It starts
// as the leader and only voter of its cluster; SetLeader and SetVoters
// change that.
type Cluster struct {
	*raftcluster.Cluster
	node *node
}

// New returns the fake for node self.
func New(self int32) *Cluster {
	n := &node{state: fsm.New(), self: self, leader: self, voters: []int32{self}}
	return &Cluster{Cluster: raftcluster.NewOn(n), node: n}
}

// ServeGroupsFor has the fake coordinate groups until the test ends, with
// cfg (no initial rebalance delay, Kafka's session bounds, unless set).
func (c *Cluster) ServeGroupsFor(t interface{ Cleanup(func()) }, cfg coordinator.Config) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.ServeGroups(ctx, cfg)
}

// SetLeader makes id the leader (-1: none known). A write that needs the
// leader then fails with cluster.ErrNotLeader unless id is this node;
// forwardable changes are applied as if the leader had taken them.
func (c *Cluster) SetLeader(id int32) {
	c.node.mu.Lock()
	c.node.leader = id
	c.node.term++
	c.node.mu.Unlock()
}

// SetVoters sets the voters' ids.
func (c *Cluster) SetVoters(ids ...int32) {
	c.node.mu.Lock()
	c.node.voters = append([]int32(nil), ids...)
	c.node.mu.Unlock()
}

// FailWrites makes every write fail with err, as Raft can (for example
// cluster.ErrIndeterminate); nil lets writes succeed again.
func (c *Cluster) FailWrites(err error) {
	c.node.mu.Lock()
	c.node.fail = err
	c.node.mu.Unlock()
}

// node is a raftcluster.Node held in memory: it applies each entry to its
// state at once, in order, at the next index. The leader it is told of
// (SetLeader) and the voters (SetVoters) are what it reports.
//
// Forwarding: a follower of this fake has no leader to reach over HTTP, and
// needs none. Its Forward takes a forwardable change (raftcluster.
// ForwardableOps) as the leader would — the leader's Cluster proposing it,
// here the one Cluster stamping it — and applies it to the one state, which
// stands for the state the leader replicates back. So a follower's
// AutoCreateTopic, InitProducer and RegisterBroker take effect as if
// forwarded and applied, while writes that are the leader's alone (produce,
// create and delete topic, delete records, retention), proposed with
// Propose, are refused
// with cluster.ErrNotLeader as Raft refuses them.
type node struct {
	state *fsm.State

	mu     sync.Mutex
	index  uint64
	self   int32
	leader int32
	term   uint64
	voters []int32
	fail   error
}

var _ raftcluster.Node = (*node)(nil)

func (n *node) State() *fsm.State { return n.state }

// Propose applies cmd when this node leads.
func (n *node) Propose(cmd fsm.Command, _ []byte) raftcluster.Pending {
	return n.apply(cmd, false)
}

// Forward applies a forwardable cmd when any leader is known.
func (n *node) Forward(cmd fsm.Command) raftcluster.Pending { return n.apply(cmd, true) }

func (n *node) IsLeader() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader == n.self
}

func (n *node) Leader() int32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader
}

// Voters are the ids SetVoters set.
func (n *node) Voters() ([]int32, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]int32(nil), n.voters...), nil
}

// Barrier has nothing to wait for: every entry is applied when proposed.
func (n *node) Barrier(context.Context) error { return nil }

// Term counts the leaders the node was given (SetLeader).
func (n *node) Term() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.term
}

// Role is leader or follower.
func (n *node) Role() string {
	if n.IsLeader() {
		return "leader"
	}
	return "follower"
}

// apply applies cmd as the next entry, if the leadership the node was given
// allows it.
func (n *node) apply(cmd fsm.Command, forwarded bool) *applied {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.fail != nil:
		return &applied{err: n.fail}
	case forwarded && !raftcluster.ForwardableOps[cmd.Op]:
		return &applied{err: fmt.Errorf("command %s cannot be forwarded", cmd.Op)}
	case n.leader < 0, n.leader != n.self && !forwarded:
		return &applied{err: cluster.ErrNotLeader}
	}
	if cmd.Produce != nil { // a Raft entry owns its bytes
		parts := make([]fsm.ProducePartition, len(cmd.Produce))
		for i, p := range cmd.Produce {
			p.Batches = make([][]byte, len(p.Batches))
			for j, b := range cmd.Produce[i].Batches {
				p.Batches[j] = append([]byte(nil), b...)
			}
			parts[i] = p
		}
		cmd.Produce = parts
	}
	n.index++
	return &applied{res: n.state.ApplyCommand(n.index, cmd)}
}

// applied is an entry already applied (or refused).
type applied struct {
	res fsm.ApplyResult
	err error
}

var closed = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func (a *applied) Stored() <-chan struct{}          { return closed }
func (a *applied) Done() <-chan struct{}            { return closed }
func (a *applied) Result() (fsm.ApplyResult, error) { return a.res, a.err }
