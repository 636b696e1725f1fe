package coordinator

import (
	"context"
	"time"

	"github.com/raftline/raftline/broker/groups"
)

// sweep is one round of the leader's timers: members whose session expired
// are removed, rebalances past their timeout (or past the initial delay)
// complete, pending member ids expire, and old offsets are expired. What
// they decide is proposed; the state changes when it is applied.
func (c *Coordinator) sweep(ctx context.Context) {
	c.observe()
	now := time.Now()
	var cmds []groups.Command
	c.mu.Lock()
	if !c.leading || !c.ready {
		c.mu.Unlock()
		return
	}
	anyGroup := false
	c.b.Read(func(gs *groups.Groups) {
		anyGroup = gs.Len() > 0
		for name := range c.sessions {
			if gs.Get(name) == nil {
				delete(c.sessions, name)
				delete(c.rebalances, name)
			}
		}
		for _, name := range gs.Names() {
			if cmd, ok := c.sweepGroup(gs.Get(name), now); ok {
				cmds = append(cmds, cmd...)
			}
		}
	})
	for name, p := range c.pending {
		for id, until := range p {
			if now.After(until) {
				delete(p, id)
			}
		}
		if len(p) == 0 {
			delete(c.pending, name)
		}
	}
	if c.cfg.OffsetsRetention > 0 && anyGroup && now.After(c.nextRetention) {
		c.nextRetention = now.Add(c.cfg.OffsetsRetentionCheck)
		cmds = append(cmds, groups.Command{Kind: groups.KindExpireOffsets, RetentionMs: c.cfg.OffsetsRetention.Milliseconds()})
	}
	c.mu.Unlock()
	for _, cmd := range cmds {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := c.propose(pctx, cmd); err != nil {
			c.log.Debug("group coordinator: proposal failed", "group", cmd.Group, "kind", cmd.Kind, "err", err)
		}
		cancel()
	}
}

// sweepGroup checks one group's sessions and rebalance timer; the caller
// holds mu and the groups' read lock.
func (c *Coordinator) sweepGroup(g *groups.Group, now time.Time) ([]groups.Command, bool) {
	var cmds []groups.Command
	ss := c.sessions[g.Name]
	if ss == nil {
		ss = map[string]time.Time{}
		c.sessions[g.Name] = ss
	}
	waiting := c.waiting[g.Name]
	var expired []string
	for _, m := range g.Members {
		last, ok := ss[m.ID]
		switch {
		case !ok || waiting[m.ID] > 0:
			// A member first seen here (a new leader) gets a whole
			// session; one whose request waits is alive.
			ss[m.ID] = now
		case now.Sub(last) > time.Duration(m.SessionTimeoutMs)*time.Millisecond:
			expired = append(expired, m.ID)
			ss[m.ID] = now // proposed once per session timeout
			c.log.Info("group coordinator: member's session expired", "group", g.Name, "member", m.ID)
		}
	}
	for id := range ss {
		if g.Member(id) == nil {
			delete(ss, id)
		}
	}
	if len(expired) > 0 {
		cmds = append(cmds, groups.Command{Kind: groups.KindExpireMembers, Group: g.Name, Members: expired})
	}
	if g.State != groups.PreparingRebalance {
		delete(c.rebalances, g.Name)
		return cmds, len(cmds) > 0
	}
	r := c.rebalances[g.Name]
	if r == nil || r.generation != g.Generation {
		r = &rebalance{generation: g.Generation, started: now, lastJoin: now}
		c.rebalances[g.Name] = r
	}
	deadline := r.started.Add(time.Duration(g.MaxRebalanceTimeoutMs()) * time.Millisecond)
	if g.DelayedJoin {
		if d := r.lastJoin.Add(c.cfg.InitialRebalanceDelay); d.Before(deadline) {
			deadline = d
		}
	}
	if !now.Before(deadline) {
		cmds = append(cmds, groups.Command{Kind: groups.KindCompleteJoin, Group: g.Name, Generation: g.Generation})
		// Proposed once per timeout: a join that cannot complete (only
		// absent static members) waits another one.
		r.started, r.lastJoin = now, now
	}
	return cmds, len(cmds) > 0
}
