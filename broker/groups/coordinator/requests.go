package coordinator

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/groups"
)

// Join serves a JoinGroup. A member without an id gets one; when
// requireMemberID is set (v4+) and it is not static, it is answered
// MEMBER_ID_REQUIRED with that id, to join again with it. The answer comes
// once the member's join completes, as applied: at once when it changes
// nothing, when every member has joined, or when the rebalance timer ends
// the join phase.
func (c *Coordinator) Join(ctx context.Context, group string, j groups.Join, requireMemberID bool) (*groups.JoinResponse, error) {
	lost, err := c.serving()
	if err != nil {
		return nil, err
	}
	st := time.Duration(j.SessionTimeoutMs) * time.Millisecond
	if st < c.cfg.MinSessionTimeout || st > c.cfg.MaxSessionTimeout {
		return nil, kerr.InvalidSessionTimeout
	}
	if j.MemberID == "" {
		prefix := j.ClientID
		if j.InstanceID != "" {
			prefix = j.InstanceID
		}
		j.MemberID = newMemberID(prefix)
		if requireMemberID && j.InstanceID == "" {
			c.addPending(group, j.MemberID, st)
			return &groups.JoinResponse{MemberID: j.MemberID, Generation: -1}, kerr.MemberIDRequired
		}
		j.NewMember = true
	} else if c.takePending(group, j.MemberID) {
		j.NewMember = true
	}
	if j.NewMember && c.cfg.InitialRebalanceDelay > 0 {
		// Only a rebalance begun by this join in an empty group waits.
		c.b.Read(func(gs *groups.Groups) {
			g := gs.Get(group)
			j.InitialDelay = g == nil || g.State == groups.Empty
		})
	}
	defer c.hold(group, j.MemberID)()
	res, err := c.propose(ctx, groups.Command{Kind: groups.KindJoin, Group: group, Join: &j})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return &groups.JoinResponse{MemberID: j.MemberID, Generation: -1}, err
	}
	if j.NewMember {
		c.joined(group)
	}
	out := res.Join
	if out.Response != nil {
		return out.Response, nil
	}
	for {
		changed := c.b.Changed()
		var resp *groups.JoinResponse
		var gone bool
		c.b.Read(func(gs *groups.Groups) {
			g := gs.Get(group)
			var m *groups.Member
			if g != nil {
				m = g.Member(out.MemberID)
			}
			switch {
			case m == nil:
				gone = true
			case m.JoinedGeneration > out.FromGeneration:
				resp = g.JoinResponseFor(out.MemberID)
			}
		})
		switch {
		case gone:
			return &groups.JoinResponse{MemberID: out.MemberID, Generation: -1}, kerr.UnknownMemberID
		case resp != nil:
			return resp, nil
		}
		select {
		case <-changed:
		case <-lost:
			return nil, kerr.NotCoordinator
		case <-ctx.Done():
			return nil, kerr.RebalanceInProgress
		}
	}
}

// Sync serves a SyncGroup: the leader's assignments are proposed, and every
// member is answered its own once they are applied.
func (c *Coordinator) Sync(ctx context.Context, group string, s groups.Sync) ([]byte, error) {
	lost, err := c.serving()
	if err != nil {
		return nil, err
	}
	defer c.hold(group, s.MemberID)()
	for {
		changed := c.b.Changed()
		var assignment []byte
		var wait, leads bool
		c.b.Read(func(gs *groups.Groups) {
			assignment, wait, err = gs.CheckSync(group, &s)
			if g := gs.Get(group); g != nil {
				leads = g.Leader == s.MemberID
			}
		})
		if err != nil || !wait {
			return assignment, err
		}
		if leads {
			res, err := c.propose(ctx, groups.Command{Kind: groups.KindSync, Group: group, Sync: &s})
			if err == nil {
				err = res.Err
			}
			return res.Assignment, err
		}
		select {
		case <-changed:
		case <-lost:
			return nil, kerr.NotCoordinator
		case <-ctx.Done():
			return nil, kerr.RebalanceInProgress
		}
	}
}

// Heartbeat serves a Heartbeat: it keeps the member's session and tells it
// whether to join again. Nothing is replicated.
func (c *Coordinator) Heartbeat(group, memberID, instanceID string, generation int32) error {
	if _, err := c.serving(); err != nil {
		return err
	}
	var err error
	c.b.Read(func(gs *groups.Groups) { err = gs.CheckHeartbeat(group, memberID, instanceID, generation) })
	if err == nil || err == kerr.RebalanceInProgress {
		c.touch(group, memberID)
	}
	return err
}

// Leave serves a LeaveGroup; the errors are per member, in order. A member
// told MEMBER_ID_REQUIRED that leaves before joining just goes.
func (c *Coordinator) Leave(ctx context.Context, group string, members []groups.LeavingMember) ([]error, error) {
	if _, err := c.serving(); err != nil {
		return nil, err
	}
	errs := make([]error, len(members))
	var rest []groups.LeavingMember
	var at []int
	for i, m := range members {
		if m.InstanceID == "" && c.takePending(group, m.MemberID) {
			continue
		}
		rest = append(rest, m)
		at = append(at, i)
	}
	if len(rest) == 0 {
		return errs, nil
	}
	res, err := c.propose(ctx, groups.Command{Kind: groups.KindLeave, Group: group, Leave: rest})
	if err != nil {
		return nil, err
	}
	for k, i := range at {
		errs[i] = res.Errs[k]
	}
	return errs, nil
}

// Commit serves an OffsetCommit; the errors are per partition, in order,
// when the commit as a whole was taken.
func (c *Coordinator) Commit(ctx context.Context, group string, commit groups.Commit) ([]error, error) {
	if _, err := c.serving(); err != nil {
		return nil, err
	}
	res, err := c.propose(ctx, groups.Command{Kind: groups.KindCommit, Group: group, Commit: &commit})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return nil, err
	}
	if commit.Generation >= 0 {
		c.touch(group, commit.MemberID)
	}
	return res.Errs, nil
}

// Offsets calls fn with a group's committed offsets (nil for an unknown
// group), as applied on the coordinator.
func (c *Coordinator) Offsets(group string, fn func(map[string]map[int32]groups.Offset)) error {
	if _, err := c.serving(); err != nil {
		return err
	}
	c.b.Read(func(gs *groups.Groups) {
		var offsets map[string]map[int32]groups.Offset
		if g := gs.Get(group); g != nil {
			offsets = g.Offsets
		}
		fn(offsets)
	})
	return nil
}

// Describe calls fn with a group (nil when it does not exist) under the
// groups' read lock.
func (c *Coordinator) Describe(group string, fn func(*groups.Group)) error {
	if _, err := c.serving(); err != nil {
		return err
	}
	c.b.Read(func(gs *groups.Groups) { fn(gs.Get(group)) })
	return nil
}

// List calls fn with every group, sorted by name. A node that does not
// coordinate lists none, as a Kafka broker lists only the groups it
// coordinates.
func (c *Coordinator) List(fn func(*groups.Group)) error {
	if _, err := c.serving(); err != nil {
		if err == kerr.NotCoordinator {
			return nil
		}
		return err
	}
	c.b.Read(func(gs *groups.Groups) {
		for _, n := range gs.Names() {
			fn(gs.Get(n))
		}
	})
	return nil
}

// DeleteGroups deletes empty groups; the errors are per group, in order.
func (c *Coordinator) DeleteGroups(ctx context.Context, names []string) ([]error, error) {
	if _, err := c.serving(); err != nil {
		return nil, err
	}
	res, err := c.propose(ctx, groups.Command{Kind: groups.KindDeleteGroups, Groups: names})
	if err != nil {
		return nil, err
	}
	return res.Errs, nil
}

// DeleteOffsets deletes a group's committed offsets; the errors are per
// partition, in order, when the group's were nil.
func (c *Coordinator) DeleteOffsets(ctx context.Context, group string, parts []groups.TopicPartition) ([]error, error) {
	if _, err := c.serving(); err != nil {
		return nil, err
	}
	res, err := c.propose(ctx, groups.Command{Kind: groups.KindDeleteOffsets, Group: group, Partitions: parts})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return nil, err
	}
	return res.Errs, nil
}

func (c *Coordinator) addPending(group, member string, sessionTimeout time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		return
	}
	p := c.pending[group]
	if p == nil {
		p = map[string]time.Time{}
		c.pending[group] = p
	}
	p[member] = time.Now().Add(sessionTimeout)
}

// takePending removes member from the group's pending members, reporting
// whether it was one.
func (c *Coordinator) takePending(group, member string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[group]
	if _, ok := p[member]; !ok {
		return false
	}
	delete(p, member)
	return true
}

// joined notes a new member's join: the initial delay runs from it.
func (c *Coordinator) joined(group string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.rebalances[group]; r != nil {
		r.lastJoin = time.Now()
	}
}
