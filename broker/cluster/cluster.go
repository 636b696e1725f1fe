// Package cluster is the replicated state as the Kafka protocol sees it, and
// the one seam between the protocol (broker/kafka) and what lies beneath it:
// Raft (broker/raftnode), the state machine (broker/fsm) and the partition
// logs (broker/partlog).
//
// Writes: a produce for one partition is proposed and returns a Proposal to
// wait on; metadata changes (create and delete topic, init producer, register
// broker, retention pass) are applied on the leader, and those any node may
// ask for are forwarded to the leader over HTTP (forward.go holds both ends).
// Every entry this node proposes gets its clock in one place,
// Cluster.propose. Reads: topics, partitions behind one bounds check that
// answers the Kafka error, registered brokers, leadership, voters. Errors:
// the sentinels in errors.go and ErrorCode, the one mapping to Kafka codes.
//
// See DESIGN.md.
package cluster

import (
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/partlog"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/broker/topicrules"
)

// Broker is a registered broker's addresses.
type Broker = fsm.Broker

// Batch is one stored record batch with its offsets assigned.
type Batch = partlog.Batch

// Digest summarises one partition's replica; equal digests on two nodes mean
// byte-identical partition logs.
type Digest = partlog.Digest

// MaxPartitions bounds a topic's partition count.
const MaxPartitions = topicrules.MaxPartitions

// ValidateTopicName applies Kafka's topic name rules.
func ValidateTopicName(name string) error { return topicrules.ValidateTopicName(name) }

// ValidateConfigs accepts only the topic configs raftline honours.
func ValidateConfigs(configs map[string]string) error { return topicrules.ValidateConfigs(configs) }

// Topic is a topic as of one read.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions int32
	// Configs are the topic's configs as created; shared with the
	// replicated state, so they must not be modified.
	Configs map[string]string
	// MaxMessageBytes is the largest record batch the topic accepts.
	MaxMessageBytes int64
}

func topicOf(t *fsm.Topic) Topic {
	return Topic{Name: t.Name, ID: t.ID, Partitions: int32(len(t.Partitions)), Configs: t.Configs, MaxMessageBytes: t.MaxMessageBytes()}
}

// Partition reads one partition's log. Safe for concurrent use; the batches
// returned are shared with the log and must not be modified.
type Partition interface {
	// Offsets are the log start offset and the high watermark.
	Offsets() (start, next int64)
	// Read returns the batches from the one holding offset on, up to
	// maxBytes; the first batch is returned whole whatever its size.
	Read(offset int64, maxBytes int) []Batch
	// OffsetForTimestamp returns the first batch whose max timestamp is
	// at least ts, and false when no batch is that late.
	OffsetForTimestamp(ts int64) (Batch, bool)
}

var _ Partition = (*partlog.Log)(nil)

// View reads the replicated state as this node has applied it. Cluster
// embeds one; clusterfake builds one over a state it applies to directly.
type View struct{ state *fsm.State }

// NewView reads s.
func NewView(s *fsm.State) View { return View{state: s} }

// Topics returns every topic, sorted by name.
func (v View) Topics() []Topic {
	ts := v.state.Topics()
	out := make([]Topic, len(ts))
	for i, t := range ts {
		out[i] = topicOf(t)
	}
	return out
}

// Topic looks a topic up by name.
func (v View) Topic(name string) (Topic, bool) {
	t := v.state.Topic(name)
	if t == nil {
		return Topic{}, false
	}
	return topicOf(t), true
}

// Partition returns a topic's partition for reading, or
// kerr.UnknownTopicOrPartition when the topic has no such partition.
func (v View) Partition(topic string, partition int32) (Partition, error) {
	log, err := v.state.Topic(topic).Partition(partition)
	if err != nil {
		return nil, err
	}
	return log, nil
}

// Digest summarises a partition's replica on this node, or answers
// kerr.UnknownTopicOrPartition.
func (v View) Digest(topic string, partition int32) (Digest, error) {
	log, err := v.state.Topic(topic).Partition(partition)
	if err != nil {
		return Digest{}, err
	}
	return log.Digest(), nil
}

// Brokers returns the registered brokers, sorted by id.
func (v View) Brokers() []Broker { return v.state.Brokers() }

// Broker returns a registered broker.
func (v View) Broker(id int32) (Broker, bool) { return v.state.Broker(id) }

// Appended returns a channel closed at the next batch appended to any
// partition, for Fetch long polls.
func (v View) Appended() <-chan struct{} { return v.state.Appended() }

// Cluster is one node's access to the replicated state: View's reads, who
// leads, and the writes, which go through Raft.
type Cluster struct {
	View
	node   *raftnode.Node
	client *http.Client // forwards metadata changes to the leader
}

// New returns the cluster as seen from node. It is cheap and keeps no state
// of its own beyond the forwarding client, so several may view one node.
func New(node *raftnode.Node) *Cluster {
	return &Cluster{View: NewView(node.State), node: node, client: &http.Client{Timeout: 10 * time.Second}}
}

// IsLeader reports whether this node is the Raft leader, which leads every
// partition and is the controller.
func (c *Cluster) IsLeader() bool { return c.node.IsLeader() }

// Leader returns the id of the leader this node knows, or -1.
func (c *Cluster) Leader() int32 { return c.node.Leader() }

// Role is this node's Raft role: leader, follower, candidate or shutdown.
func (c *Cluster) Role() string {
	switch c.node.Raft().State() {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	}
	return "shutdown"
}

// Voters are the ids of the voters in the Raft configuration: every
// partition's replicas.
func (c *Cluster) Voters() ([]int32, error) {
	members, err := c.node.Members()
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
