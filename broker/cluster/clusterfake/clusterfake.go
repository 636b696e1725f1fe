// Package clusterfake is an in-memory stand-in for
// broker/cluster/raftcluster: one node's replicated state behind the cluster
// contract with Raft taken out, each change applied to the state machine the
// moment it is asked for. The reads are raftcluster's own (raftcluster.View),
// so tests of the Kafka handlers drive real requests through the real read
// path and state machine in milliseconds.
package clusterfake

import (
	"context"
	"sync"
	"time"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/cluster/raftcluster"
	"github.com/raftline/raftline/broker/fsm"
)

// Cluster is the fake. It starts as the leader and only voter of its
// cluster; SetLeader and SetVoters change that.
type Cluster struct {
	raftcluster.View
	state *fsm.State

	mu     sync.Mutex
	index  uint64
	self   int32
	leader int32
	voters []int32
	fail   error
}

// New returns the fake for node self.
func New(self int32) *Cluster {
	s := fsm.New()
	return &Cluster{View: raftcluster.NewView(s), state: s, self: self, leader: self, voters: []int32{self}}
}

// SetLeader makes id the leader (-1: none known). A write that needs the
// leader then fails with cluster.ErrNotLeader unless id is this node;
// forwardable changes are applied as if the leader had taken them.
func (c *Cluster) SetLeader(id int32) {
	c.mu.Lock()
	c.leader = id
	c.mu.Unlock()
}

// SetVoters sets the voters' ids.
func (c *Cluster) SetVoters(ids ...int32) {
	c.mu.Lock()
	c.voters = append([]int32(nil), ids...)
	c.mu.Unlock()
}

// FailWrites makes every write fail with err, as Raft can (for example
// cluster.ErrIndeterminate); nil lets writes succeed again.
func (c *Cluster) FailWrites(err error) {
	c.mu.Lock()
	c.fail = err
	c.mu.Unlock()
}

// IsLeader reports whether this node leads.
func (c *Cluster) IsLeader() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader == c.self
}

// Leader is the leader's id, or -1.
func (c *Cluster) Leader() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// Role is leader or follower.
func (c *Cluster) Role() string {
	if c.IsLeader() {
		return "leader"
	}
	return "follower"
}

// Voters are the ids SetVoters set.
func (c *Cluster) Voters() ([]int32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int32(nil), c.voters...), nil
}

// Produce appends at once and returns a finished proposal.
func (c *Cluster) Produce(topic string, partition int32, batches [][]byte, _ []byte) cluster.Proposal {
	owned := make([][]byte, len(batches)) // a Raft entry owns its bytes
	for i, b := range batches {
		owned[i] = append([]byte(nil), b...)
	}
	res, err := c.apply(fsm.Command{Op: fsm.OpProduce, Produce: []fsm.ProducePartition{{Topic: topic, Partition: partition, Batches: owned}}}, false)
	p := &proposal{res: cluster.ProduceResult{BaseOffset: -1, LogStart: -1}, err: err}
	if err == nil {
		pr := res.Partitions[0]
		p.res = cluster.ProduceResult{BaseOffset: pr.BaseOffset, LogStart: pr.LogStart, Err: pr.Err}
	}
	return p
}

// CreateTopic creates a topic when this node leads.
func (c *Cluster) CreateTopic(_ context.Context, spec cluster.TopicSpec) error {
	return resultErr(c.apply(createTopic(spec), false))
}

// DeleteTopic deletes a topic when this node leads.
func (c *Cluster) DeleteTopic(_ context.Context, name string) error {
	return resultErr(c.apply(fsm.Command{Op: fsm.OpDeleteTopic, Delete: name}, false))
}

// Retention runs a retention pass when this node leads.
func (c *Cluster) Retention(context.Context) error {
	return resultErr(c.apply(fsm.Command{Op: fsm.OpRetention}, false))
}

// AutoCreateTopic creates a topic when any leader is known.
func (c *Cluster) AutoCreateTopic(_ context.Context, spec cluster.TopicSpec) error {
	return resultErr(c.apply(createTopic(spec), true))
}

// InitProducer allocates a producer id when any leader is known.
func (c *Cluster) InitProducer(context.Context) (int64, error) {
	res, err := c.apply(fsm.Command{Op: fsm.OpInitProducer}, true)
	return res.ProducerID, err
}

// RegisterBroker registers a broker when any leader is known.
func (c *Cluster) RegisterBroker(_ context.Context, b cluster.Broker) error {
	fb := fsm.Broker(b)
	return resultErr(c.apply(fsm.Command{Op: fsm.OpRegisterNode, Broker: &fb}, true))
}

// apply applies cmd as the next entry, if the leadership the fake was given
// allows it.
func (c *Cluster) apply(cmd fsm.Command, forwardable bool) (fsm.ApplyResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.fail != nil:
		return fsm.ApplyResult{}, c.fail
	case c.leader < 0, c.leader != c.self && !forwardable:
		return fsm.ApplyResult{}, cluster.ErrNotLeader
	}
	c.index++
	cmd.TimeMs = time.Now().UnixMilli()
	return c.state.ApplyCommand(c.index, cmd), nil
}

func createTopic(spec cluster.TopicSpec) fsm.Command {
	return fsm.Command{Op: fsm.OpCreateTopic, Topic: &fsm.CreateTopic{Name: spec.Name, Partitions: spec.Partitions, Configs: spec.Configs}}
}

func resultErr(res fsm.ApplyResult, err error) error {
	if err != nil {
		return err
	}
	return res.Err
}

// proposal is a produce already applied (or refused).
type proposal struct {
	res cluster.ProduceResult
	err error
}

var closed = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func (p *proposal) Stored() <-chan struct{}                { return closed }
func (p *proposal) Done() <-chan struct{}                  { return closed }
func (p *proposal) Result() (cluster.ProduceResult, error) { return p.res, p.err }
