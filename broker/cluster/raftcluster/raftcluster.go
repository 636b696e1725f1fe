// Package raftcluster implements the cluster contract (broker/cluster) over
// one Raft group: raftline's replicated state as one node holds it, and the
// one way the Kafka protocol reaches Raft (broker/raftnode), the state
// machine (broker/fsm) and, through it, the partition logs.
//
// Writes: a produce for one partition is proposed and returns a
// cluster.Proposal to wait on; metadata changes (create and delete topic,
// init producer, register broker, retention pass) are applied on the leader,
// and those any node may ask for are forwarded to the leader over HTTP
// (forward.go holds both ends). Every entry this node proposes gets its clock
// in one place, Cluster.propose. Reads: topics, partitions behind one bounds
// check that answers the Kafka error, registered brokers, leadership,
// voters, and the per-partition digests of /v1/partitions.
//
// At the boundary it converts the state machine's types into the contract's
// (fsm.Broker and cluster.Broker, a partition log and cluster.Partition) and
// raftnode's errors into errors that match cluster's sentinels (errors.go).
//
// Cluster runs on a Node (node.go): New adapts a *raftnode.Node to it, and
// broker/cluster/clusterfake runs the same Cluster on a node held in memory.
//
// See ../DESIGN.md.
package raftcluster

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/groups/coordinator"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/broker/seglog"
)

// Digest summarises one partition's replica; equal digests on two nodes mean
// byte-identical partition logs.
type Digest = fsm.Digest

func topicOf(t *fsm.Topic) cluster.Topic {
	return cluster.Topic{Name: t.Name, ID: t.ID, Partitions: int32(len(t.Partitions)), Configs: t.Configs, MaxMessageBytes: t.MaxMessageBytes()}
}

// brokerOf and fsmBroker convert between the state machine's record of a
// broker and the contract's; the fields are the same.
func brokerOf(b fsm.Broker) cluster.Broker  { return cluster.Broker(b) }
func fsmBroker(b cluster.Broker) fsm.Broker { return fsm.Broker(b) }

// partition serves one partition's log as a cluster.Partition, its read
// errors as the contract's (readErr).
type partition struct{ log fsm.PartitionLog }

var _ cluster.Partition = partition{}

func (p partition) Offsets() (start, next int64) { return p.log.Offsets() }

func (p partition) AppendBatches(dst []byte, offset int64, maxBytes int) ([]byte, error) {
	out, err := p.log.AppendBatches(dst, offset, maxBytes)
	if err != nil {
		return dst, readErr(err)
	}
	return out, nil
}

func (p partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool, err error) {
	offset, timestamp, ok, err = offsetForTimestamp(p.log, ts)
	return offset, timestamp, ok, readErr(err)
}

// readErr is a store's read error as the contract has it: a read below the
// start (retention moved it since the caller looked) is out of range, a
// log closed with its deleted topic is an unknown partition, and anything
// else (an I/O error, bytes that fail their checks: seglog.Error,
// seglog.ErrCorrupt) is cluster.ErrStorage.
func readErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, seglog.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange
	case errors.Is(err, seglog.ErrClosed):
		return kerr.UnknownTopicOrPartition
	}
	return fmt.Errorf("%w: %w", cluster.ErrStorage, err)
}

// View reads the replicated state as this node has applied it. Cluster
// embeds one, over its node's state.
type View struct{ state *fsm.State }

// NewView reads s.
func NewView(s *fsm.State) View { return View{state: s} }

// Topics returns every topic, sorted by name.
func (v View) Topics() []cluster.Topic {
	ts := v.state.Topics()
	out := make([]cluster.Topic, len(ts))
	for i, t := range ts {
		out[i] = topicOf(t)
	}
	return out
}

// Topic looks a topic up by name.
func (v View) Topic(name string) (cluster.Topic, bool) {
	t := v.state.Topic(name)
	if t == nil {
		return cluster.Topic{}, false
	}
	return topicOf(t), true
}

// Partition returns a topic's partition for reading, or
// kerr.UnknownTopicOrPartition when the topic has no such partition.
func (v View) Partition(topic string, p int32) (cluster.Partition, error) {
	log, err := v.state.Topic(topic).Partition(p)
	if err != nil {
		return nil, err
	}
	return partition{log}, nil
}

// Digest summarises a partition's replica on this node, or answers
// kerr.UnknownTopicOrPartition.
func (v View) Digest(topic string, partition int32) (Digest, error) {
	log, err := v.state.Topic(topic).Partition(partition)
	if err != nil {
		return Digest{}, err
	}
	return log.Digest()
}

// Brokers returns the registered brokers, sorted by id.
func (v View) Brokers() []cluster.Broker {
	bs := v.state.Brokers()
	out := make([]cluster.Broker, len(bs))
	for i, b := range bs {
		out[i] = brokerOf(b)
	}
	return out
}

// Broker returns a registered broker.
func (v View) Broker(id int32) (cluster.Broker, bool) {
	b, ok := v.state.Broker(id)
	return brokerOf(b), ok
}

// Appended returns a channel closed at the next batch appended to any
// partition, for Fetch long polls.
func (v View) Appended() <-chan struct{} { return v.state.Appended() }

// Cluster is one node's access to the replicated state: View's reads, who
// leads, and the writes, which go through the node's Propose (Raft, or
// clusterfake's in-memory node).
type Cluster struct {
	View
	node   Node
	client *http.Client             // forwards metadata changes to the leader
	gate   func() error             // asked before each produce (GateProduces); nil admits all
	coord  *coordinator.Coordinator // the group coordinator (ServeGroups); nil serves none
}

// New returns the cluster as seen from a Raft node. It is cheap and keeps no
// state of its own beyond the forwarding client, so several may view one
// node.
func New(node *raftnode.Node) *Cluster { return NewOn(raftNode{node}) }

// NewOn returns the cluster as seen from any Node: the same reads and write
// path as New's. clusterfake runs it on a node held in memory.
func NewOn(node Node) *Cluster {
	return &Cluster{View: NewView(node.State()), node: node, client: &http.Client{Timeout: 10 * time.Second}}
}

// IsLeader reports whether this node is the Raft leader, which leads every
// partition and is the controller.
func (c *Cluster) IsLeader() bool { return c.node.IsLeader() }

// Leader returns the id of the leader this node knows, or -1.
func (c *Cluster) Leader() int32 { return c.node.Leader() }

// Role is this node's Raft role: leader, follower, candidate or shutdown.
func (c *Cluster) Role() string { return c.node.Role() }

// Voters are the ids of the voters in the Raft configuration: every
// partition's replicas.
func (c *Cluster) Voters() ([]int32, error) { return c.node.Voters() }
