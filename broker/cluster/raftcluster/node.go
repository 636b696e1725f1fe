package raftcluster

import (
	"context"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/raftnode"
)

// Node is what Cluster needs of the node it runs on: the state it applies,
// a way to propose entries, who leads and who votes. New runs a Cluster on
// a Raft node (*raftnode.Node, adapted by raftNode); clusterfake runs the
// same Cluster, its whole write path included, on a node held in memory.
type Node interface {
	// State is the replicated state as this node has applied it.
	State() *fsm.State
	// Propose submits cmd, already stamped (Cluster.propose), with
	// optional extensions (a trace context) and returns at once.
	// Proposals from one goroutine enter the log in call order. A node
	// that does not lead refuses with an error matching ErrNotLeader
	// (raftnode's or cluster's).
	Propose(cmd fsm.Command, extensions []byte) Pending
	// Forward is how a follower's forwardable change (ForwardableOps)
	// reaches the leader when the node can carry it there itself: it
	// returns the change as proposed by the leader, stamped by this
	// node's Cluster.propose as the leader's would stamp it. A Raft node
	// cannot, and returns nil: Cluster then forwards over HTTP (forward,
	// ForwardHandler), and the leader proposes and stamps the change.
	Forward(cmd fsm.Command) Pending
	// IsLeader reports whether this node leads.
	IsLeader() bool
	// Leader is the id of the leader this node knows, or -1.
	Leader() int32
	// Voters are the ids of the voters in the configuration.
	Voters() ([]int32, error)
	// Role is leader, follower, candidate or shutdown.
	Role() string
	// Barrier returns once every entry committed before the call is
	// applied on this node, which must lead.
	Barrier(ctx context.Context) error
	// Term is the Raft term this node is in.
	Term() uint64
}

// Pending is a proposed entry: Stored is closed once the entry is in this
// (the leader's) log, Done when it is applied or has failed, after which
// Result is valid. *raftnode.Proposal is one.
type Pending interface {
	Stored() <-chan struct{}
	Done() <-chan struct{}
	Result() (fsm.ApplyResult, error)
}

var (
	_ Node    = raftNode{}
	_ Pending = (*raftnode.Proposal)(nil)
)

// raftNode is a Raft node seen as a Node: Go has no covariant returns, so
// Propose's *raftnode.Proposal is returned as a Pending here. It is one
// pointer, so a Node holding it is not allocated.
type raftNode struct{ n *raftnode.Node }

func (r raftNode) State() *fsm.State { return r.n.State }

func (r raftNode) Propose(cmd fsm.Command, extensions []byte) Pending {
	return r.n.Propose(cmd, extensions)
}

// Forward returns nil: a follower reaches the leader over HTTP.
func (r raftNode) Forward(fsm.Command) Pending { return nil }

func (r raftNode) IsLeader() bool { return r.n.IsLeader() }
func (r raftNode) Leader() int32  { return r.n.Leader() }

func (r raftNode) Voters() ([]int32, error) {
	members, err := r.n.Members()
	if err != nil {
		return nil, err
	}
	var ids []int32
	for _, m := range members {
		if m.Voter {
			ids = append(ids, m.ID)
		}
	}
	return ids, nil
}

func (r raftNode) Barrier(ctx context.Context) error {
	var timeout time.Duration
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	return fromNode(r.n.Raft().Barrier(timeout).Error())
}

func (r raftNode) Term() uint64 { return r.n.Raft().CurrentTerm() }

func (r raftNode) Role() string {
	switch r.n.Raft().State() {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	}
	return "shutdown"
}
