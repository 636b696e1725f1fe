package raftcluster

import (
	"context"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/groups"
	"github.com/raftline/raftline/broker/groups/coordinator"
)

// ConsumerGroups returns every consumer group this node has applied, sorted
// by name, each with its committed offsets sorted by topic and partition. It
// copies what it reads under the groups' read lock, which no produce takes.
func (v View) ConsumerGroups() []cluster.ConsumerGroup {
	var out []cluster.ConsumerGroup
	v.state.ReadGroups(func(gs *groups.Groups) {
		out = make([]cluster.ConsumerGroup, 0, gs.Len())
		for _, name := range gs.Names() {
			out = append(out, consumerGroupOf(gs.Get(name)))
		}
	})
	return out
}

func consumerGroupOf(g *groups.Group) cluster.ConsumerGroup {
	cg := cluster.ConsumerGroup{
		Name: g.Name, State: string(g.State), ProtocolType: g.ProtocolType, Protocol: g.Protocol,
		Generation: g.Generation, Members: len(g.Members), Commits: g.Commits,
		Offsets: make([]cluster.CommittedOffset, 0, g.OffsetCount()),
	}
	for topic, ps := range g.Offsets {
		for p, o := range ps {
			cg.Offsets = append(cg.Offsets, cluster.CommittedOffset{Topic: topic, Partition: p, Offset: o.Offset, CommitTimeMs: o.CommitTimeMs})
		}
	}
	sort.Slice(cg.Offsets, func(i, j int) bool {
		a, b := cg.Offsets[i], cg.Offsets[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	return cg
}

// ServeGroups makes this Cluster its node's group coordinator (see
// broker/groups/coordinator) until ctx ends: it serves the group requests
// while the node leads and runs the leader's timers. Call it once, on the
// Cluster the Kafka listener serves, before the listener serves; without it
// every group request is answered NOT_COORDINATOR.
func (c *Cluster) ServeGroups(ctx context.Context, cfg coordinator.Config) {
	c.coord = coordinator.New(cfg, groupBackend{c})
	go c.coord.Run(ctx)
}

// groupBackend is the coordinator's view of the node: group commands are
// proposed on this node only, never forwarded, because the coordinator is
// the leader.
type groupBackend struct{ c *Cluster }

func (b groupBackend) Leading() (bool, uint64)           { return b.c.node.IsLeader(), b.c.node.Term() }
func (b groupBackend) Barrier(ctx context.Context) error { return b.c.node.Barrier(ctx) }
func (b groupBackend) Read(fn func(*groups.Groups))      { b.c.node.State().ReadGroups(fn) }
func (b groupBackend) Changed() <-chan struct{}          { return b.c.node.State().GroupsChanged() }

func (b groupBackend) Propose(ctx context.Context, cmd groups.Command) (groups.Result, error) {
	res, err := b.c.applyHere(ctx, fsm.Command{Op: fsm.OpGroup, Group: &cmd})
	switch {
	case errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrShutdown):
		return groups.Result{}, kerr.NotCoordinator
	case err != nil:
		return groups.Result{}, err
	case res.Group == nil:
		return groups.Result{Err: res.Err}, nil
	}
	return *res.Group, nil
}

// coordinator is the node's group coordinator, or an error when this Cluster
// does not serve groups.
func (c *Cluster) coordinator() (*coordinator.Coordinator, error) {
	if c.coord == nil {
		return nil, kerr.NotCoordinator
	}
	return c.coord, nil
}

// JoinGroup serves a JoinGroup (coordinator.Coordinator.Join).
func (c *Cluster) JoinGroup(ctx context.Context, group string, j groups.Join, requireMemberID bool) (*groups.JoinResponse, error) {
	co, err := c.coordinator()
	if err != nil {
		return nil, err
	}
	return co.Join(ctx, group, j, requireMemberID)
}

// SyncGroup serves a SyncGroup.
func (c *Cluster) SyncGroup(ctx context.Context, group string, s groups.Sync) ([]byte, error) {
	co, err := c.coordinator()
	if err != nil {
		return nil, err
	}
	return co.Sync(ctx, group, s)
}

// Heartbeat serves a Heartbeat.
func (c *Cluster) Heartbeat(group, memberID, instanceID string, generation int32) error {
	co, err := c.coordinator()
	if err != nil {
		return err
	}
	return co.Heartbeat(group, memberID, instanceID, generation)
}

// LeaveGroup serves a LeaveGroup.
func (c *Cluster) LeaveGroup(ctx context.Context, group string, members []groups.LeavingMember) ([]error, error) {
	co, err := c.coordinator()
	if err != nil {
		return nil, err
	}
	return co.Leave(ctx, group, members)
}

// CommitOffsets serves an OffsetCommit.
func (c *Cluster) CommitOffsets(ctx context.Context, group string, commit groups.Commit) ([]error, error) {
	co, err := c.coordinator()
	if err != nil {
		return nil, err
	}
	return co.Commit(ctx, group, commit)
}

// GroupOffsets reads a group's committed offsets on the coordinator.
func (c *Cluster) GroupOffsets(group string, fn func(map[string]map[int32]groups.Offset)) error {
	co, err := c.coordinator()
	if err != nil {
		return err
	}
	return co.Offsets(group, fn)
}

// DescribeGroup reads a group on the coordinator.
func (c *Cluster) DescribeGroup(group string, fn func(*groups.Group)) error {
	co, err := c.coordinator()
	if err != nil {
		return err
	}
	return co.Describe(group, fn)
}

// ListGroups reads every group on the coordinator; another node lists none.
func (c *Cluster) ListGroups(fn func(*groups.Group)) error {
	co, err := c.coordinator()
	if err != nil {
		return nil
	}
	return co.List(fn)
}

// DeleteGroups deletes empty groups.
func (c *Cluster) DeleteGroups(ctx context.Context, names []string) ([]error, error) {
	co, err := c.coordinator()
	if err != nil {
		return nil, err
	}
	return co.DeleteGroups(ctx, names)
}

// DeleteGroupOffsets serves an OffsetDelete.
func (c *Cluster) DeleteGroupOffsets(ctx context.Context, group string, parts []groups.TopicPartition) ([]error, error) {
	co, err := c.coordinator()
	if err != nil {
		return nil, err
	}
	return co.DeleteOffsets(ctx, group, parts)
}
