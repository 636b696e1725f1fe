package raftcluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/raftnode"
)

// stubNode records what Cluster proposes and forwards. Its proposals are
// applied at once, or the one it is given (raftnode's, as Produce sees a
// Raft node's).
type stubNode struct {
	leader            bool
	forwards          bool
	quiet             bool // records nothing: Propose does not allocate
	proposed, forward []fsm.Command
	proposal          *raftnode.Proposal
}

func (s *stubNode) State() *fsm.State { return fsm.New() }

func (s *stubNode) Propose(cmd fsm.Command, _ []byte) Pending {
	if !s.quiet {
		s.proposed = append(s.proposed, cmd)
	}
	if s.proposal == nil {
		return done{}
	}
	return s.proposal
}

func (s *stubNode) Forward(cmd fsm.Command) Pending {
	if !s.forwards {
		return nil
	}
	s.forward = append(s.forward, cmd)
	return done{}
}

func (s *stubNode) IsLeader() bool                { return s.leader }
func (s *stubNode) Leader() int32                 { return -1 }
func (s *stubNode) Voters() ([]int32, error)      { return nil, nil }
func (s *stubNode) Role() string                  { return "follower" }
func (s *stubNode) Barrier(context.Context) error { return nil }
func (s *stubNode) Term() uint64                  { return 1 }

type done struct{}

var closed = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

func (done) Stored() <-chan struct{}          { return closed }
func (done) Done() <-chan struct{}            { return closed }
func (done) Result() (fsm.ApplyResult, error) { return fsm.ApplyResult{ProducerID: 7}, nil }

func TestCluster_Produce_BoxesTheNodesProposalWithoutAllocating(t *testing.T) {
	c := NewOn(&stubNode{leader: true, quiet: true, proposal: new(raftnode.Proposal)})
	batches := [][]byte{{1}}
	// The command's one partition is the only allocation: the stamp reads
	// the clock and the raftnode proposal is returned as is.
	if n := testing.AllocsPerRun(100, func() { c.Produce("t", 0, batches, nil) }); n > 1 {
		t.Errorf("Produce allocates %v times, want at most 1", n)
	}
}

func TestCluster_Propose_StampsEveryEntryOnce(t *testing.T) {
	s := &stubNode{leader: true}
	c := NewOn(s)
	before := time.Now().UnixMilli()
	c.Produce("t", 0, nil, nil)
	c.Retention(context.Background())
	if len(s.proposed) != 2 {
		t.Fatalf("proposed %d entries", len(s.proposed))
	}
	for _, cmd := range s.proposed {
		if cmd.TimeMs < before || cmd.TimeMs > time.Now().UnixMilli() {
			t.Errorf("%s stamped %d, want the proposer's clock", cmd.Op, cmd.TimeMs)
		}
	}
}

func TestCluster_Follower_ForwardsThroughTheNodeWhenItCan(t *testing.T) {
	s := &stubNode{forwards: true}
	c := NewOn(s)
	ctx := context.Background()
	before := time.Now().UnixMilli()
	id, err := c.InitProducer(ctx)
	if err != nil || id != 7 {
		t.Fatalf("InitProducer from a follower: %d, %v", id, err)
	}
	if len(s.forward) != 1 || s.forward[0].Op != fsm.OpInitProducer || s.forward[0].TimeMs < before || len(s.proposed) != 0 {
		t.Fatalf("forwarded %+v, proposed %+v", s.forward, s.proposed)
	}

	// A node that cannot forward: over HTTP, and with no leader known
	// that is ErrNotLeader before anything is sent.
	c = NewOn(&stubNode{})
	if _, err := c.InitProducer(ctx); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("InitProducer with no leader: %v, want ErrNotLeader", err)
	}
}
