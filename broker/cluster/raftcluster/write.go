package raftcluster

import (
	"context"
	"fmt"
	"time"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/raftnode"
)

// Produce proposes batches for one partition, with optional extensions (a
// trace context) carried in the Raft entry, and returns at once. Proposals
// made from one goroutine enter the log in call order. The batches must
// have been checked (recordbatch) and are not copied. A produce the gate
// refuses (GateProduces) is done at once with the gate's error.
func (c *Cluster) Produce(topic string, partition int32, batches [][]byte, extensions []byte) cluster.Proposal {
	if c.gate != nil {
		if err := c.gate(); err != nil {
			return refused{err}
		}
	}
	p := c.propose(fsm.Command{
		Op:      fsm.OpProduce,
		Produce: []fsm.ProducePartition{{Topic: topic, Partition: partition, Batches: batches}},
	}, extensions, false)
	if np, ok := p.(*raftnode.Proposal); ok {
		// One pointer: returned as a cluster.Proposal without allocating.
		return produceProposal[*raftnode.Proposal]{np}
	}
	return produceProposal[Pending]{p}
}

// produceProposal is a proposed produce seen through the contract: its
// store and apply, the partition's result, raftnode's errors translated.
// It is instantiated with the node's concrete proposal where known, so the
// hot path boxes a pointer, not an interface.
type produceProposal[P Pending] struct{ p P }

func (p produceProposal[P]) Stored() <-chan struct{} { return p.p.Stored() }
func (p produceProposal[P]) Done() <-chan struct{}   { return p.p.Done() }

func (p produceProposal[P]) Result() (cluster.ProduceResult, error) {
	res, err := p.p.Result()
	if err != nil || len(res.Partitions) != 1 {
		return cluster.ProduceResult{BaseOffset: -1, LogStart: -1}, fromNode(err)
	}
	pr := res.Partitions[0]
	return cluster.ProduceResult{BaseOffset: pr.BaseOffset, LogStart: pr.LogStart, Err: pr.Err}, nil
}

// CreateTopic creates a topic on this node, which must lead (ErrNotLeader
// otherwise): Kafka's CreateTopics is answered by the controller only.
func (c *Cluster) CreateTopic(ctx context.Context, spec cluster.TopicSpec) error {
	return resultErr(c.applyAnnounced(ctx, createTopic(spec)))
}

// DeleteTopic deletes a topic on this node, which must lead.
func (c *Cluster) DeleteTopic(ctx context.Context, name string) error {
	return resultErr(c.applyAnnounced(ctx, fsm.Command{Op: fsm.OpDeleteTopic, Delete: name}))
}

// Retention has this node, which must lead, propose a retention pass: every
// replica trims as of the entry's time, so all trim the same batches.
func (c *Cluster) Retention(ctx context.Context) error {
	return resultErr(c.applyHere(ctx, fsm.Command{Op: fsm.OpRetention}))
}

// DeleteRecords moves partitions' log start offsets, all in one entry, on
// this node, which must lead (ErrNotLeader otherwise): Kafka sends
// DeleteRecords to each partition's leader, and raftline's leads them all.
// The outcomes are in the order of deletions; the error is the entry's
// fate.
func (c *Cluster) DeleteRecords(ctx context.Context, deletions []cluster.RecordsDeletion) ([]cluster.DeletedRecords, error) {
	parts := make([]fsm.DeleteRecordsPartition, len(deletions))
	for i, d := range deletions {
		parts[i] = fsm.DeleteRecordsPartition{Topic: d.Topic, Partition: d.Partition, Offset: d.Offset}
	}
	res, err := c.applyHere(ctx, fsm.Command{Op: fsm.OpDeleteRecords, Records: &fsm.DeleteRecords{Partitions: parts}})
	if err != nil {
		return nil, err
	}
	if len(res.Partitions) != len(deletions) {
		return nil, fmt.Errorf("delete records: %d outcomes for %d partitions", len(res.Partitions), len(deletions))
	}
	out := make([]cluster.DeletedRecords, len(deletions))
	for i, pr := range res.Partitions {
		out[i] = cluster.DeletedRecords{LowWatermark: pr.LogStart, Err: pr.Err}
	}
	return out, nil
}

// AlterTopicConfigs changes a topic's configs, on the leader or forwarded
// to it: Kafka clients send config changes to any broker, which forwards
// them to the controller (KIP-590). The change is applied to the configs as
// the leader has them (fsm.AlterConfigs).
func (c *Cluster) AlterTopicConfigs(ctx context.Context, change cluster.ConfigChange) error {
	return resultErr(c.applyOrForward(ctx, fsm.Command{Op: fsm.OpAlterConfigs, Configs: &fsm.AlterConfigs{
		Topic: change.Topic, Replace: change.Replace, Delete: change.Delete, Set: change.Set, Defaults: change.Defaults,
	}}))
}

// CreatePartitions grows a topic to count partitions on this node, which
// must lead.
func (c *Cluster) CreatePartitions(ctx context.Context, topic string, count int32) error {
	return resultErr(c.applyAnnounced(ctx, fsm.Command{Op: fsm.OpCreatePartitions, Grow: &fsm.CreatePartitions{Topic: topic, Count: count}}))
}

// AutoCreateTopic creates a topic on behalf of a client of any node: on the
// leader, or forwarded to it.
func (c *Cluster) AutoCreateTopic(ctx context.Context, spec cluster.TopicSpec) error {
	return resultErr(c.applyOrForward(ctx, createTopic(spec)))
}

// InitProducer allocates an idempotent producer id, on the leader or
// forwarded to it, so every replica knows the id.
func (c *Cluster) InitProducer(ctx context.Context) (int64, error) {
	res, err := c.applyOrForward(ctx, fsm.Command{Op: fsm.OpInitProducer})
	if err == nil {
		err = res.Err
	}
	return res.ProducerID, err
}

// RegisterBroker records a broker's addresses in the replicated state, on
// the leader or forwarded to it.
func (c *Cluster) RegisterBroker(ctx context.Context, b cluster.Broker) error {
	fb := fsmBroker(b)
	return resultErr(c.applyOrForward(ctx, fsm.Command{Op: fsm.OpRegisterNode, Broker: &fb}))
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

// propose is the only way this node proposes an entry, and the one place an
// entry gets its time: the proposer's clock travels in the entry, so every
// replica applies time-based decisions (retention, append time) identically.
// A forwarded change is stamped by the leader that proposes it: over HTTP,
// here on the leader (ForwardHandler); by a Node that forwards itself
// (forwarded, Node.Forward), here on its behalf, and nil comes back when the
// node cannot.
func (c *Cluster) propose(cmd fsm.Command, extensions []byte, forwarded bool) Pending {
	cmd.TimeMs = time.Now().UnixMilli()
	if forwarded {
		return c.node.Forward(cmd)
	}
	return c.node.Propose(cmd, extensions)
}

// applyHere proposes on this node and waits for the entry to be applied, or
// for ctx. On a follower Raft refuses at once with ErrNotLeader.
func (c *Cluster) applyHere(ctx context.Context, cmd fsm.Command) (fsm.ApplyResult, error) {
	return await(ctx, c.propose(cmd, nil, false))
}

// applyAnnounced applies a change to what Metadata answers (a topic created,
// deleted or grown) on this node, which must lead, and returns once a quorum
// has also learnt that it is committed. A follower learns the commit index
// only from the leader's next append, which an idle leader sends after the
// Raft commit timeout (50 ms): clients that read Metadata from a follower
// right after the admin call would see the old topic (librdkafka fails
// records for a partition it does not know at once). A barrier is that next
// append, sent now. Its failure does not undo the change, so it is not
// reported; the followers then learn of it later, as in Kafka, where brokers
// learn topic changes from the controller asynchronously.
func (c *Cluster) applyAnnounced(ctx context.Context, cmd fsm.Command) (fsm.ApplyResult, error) {
	res, err := c.applyHere(ctx, cmd)
	if err == nil && res.Err == nil {
		_ = c.node.Barrier(ctx)
	}
	return res, err
}

// await waits for p to be applied, or for ctx.
func await(ctx context.Context, p Pending) (fsm.ApplyResult, error) {
	select {
	case <-p.Done():
		res, err := p.Result()
		return res, fromNode(err)
	case <-ctx.Done():
		return fsm.ApplyResult{}, fmt.Errorf("%w: %v", cluster.ErrIndeterminate, ctx.Err())
	}
}

// applyOrForward applies on the leader, or from a follower has the node
// forward it when it can (Node.Forward), else forwards it over HTTP.
func (c *Cluster) applyOrForward(ctx context.Context, cmd fsm.Command) (fsm.ApplyResult, error) {
	if c.node.IsLeader() {
		return c.applyHere(ctx, cmd)
	}
	if p := c.propose(cmd, nil, true); p != nil {
		return await(ctx, p)
	}
	return c.forward(ctx, cmd)
}
