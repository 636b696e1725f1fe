package groups

import "github.com/twmb/franz-go/pkg/kerr"

// join applies a JoinGroup (Kafka's GroupCoordinator.handleJoinGroup, less
// the pending members of MEMBER_ID_REQUIRED, which the coordinator keeps).
func (gs *Groups) join(name string, j *Join, now int64) Result {
	g := gs.groups[name]
	created := false
	if g == nil {
		if !j.NewMember {
			return Result{Err: kerr.UnknownMemberID}
		}
		g = &Group{Name: name, State: Empty, StateSinceMs: now}
		created = true
	}
	if !g.supports(j.ProtocolType, j.Protocols) {
		return Result{Err: kerr.InconsistentGroupProtocol}
	}
	if j.NewMember {
		if old := g.StaticMember(j.InstanceID); old != nil {
			return Result{Join: g.replaceStatic(old, j, now)}
		}
		if g.Member(j.MemberID) != nil { // an id given twice: nothing to add
			return Result{Err: kerr.MemberIDRequired}
		}
		if created {
			gs.groups[name] = g
		}
		if len(g.Members) == 0 {
			g.ProtocolType = j.ProtocolType
		}
		m := &Member{ID: j.MemberID, InstanceID: j.InstanceID}
		m.update(j)
		g.Members = append(g.Members, m)
		if g.Leader == "" {
			g.Leader = m.ID
		}
		from := g.Generation
		g.prepareRebalance(now, j.InitialDelay)
		m.Joined = true
		g.maybeCompleteJoin(now)
		return Result{Join: &JoinOutcome{MemberID: m.ID, FromGeneration: from}}
	}
	if g.fenced(j.MemberID, j.InstanceID) {
		return Result{Err: kerr.FencedInstanceID}
	}
	m := g.Member(j.MemberID)
	if m == nil || j.InstanceID != "" && g.StaticMember(j.InstanceID) == nil {
		return Result{Err: kerr.UnknownMemberID}
	}
	from := g.Generation
	switch g.State {
	case PreparingRebalance:
		m.update(j)
		m.Joined = true
		g.maybeCompleteJoin(now)
	case CompletingRebalance:
		if m.matches(j.Protocols) {
			// The member missed its answer: give it again.
			return Result{Join: &JoinOutcome{MemberID: m.ID, Response: g.JoinResponseFor(m.ID)}}
		}
		m.update(j)
		g.prepareRebalance(now, false)
		m.Joined = true
	case Stable:
		// The leader's join always rebalances: it may have seen a change
		// the members' metadata does not show (new partitions).
		if g.Leader != m.ID && m.matches(j.Protocols) {
			return Result{Join: &JoinOutcome{MemberID: m.ID, Response: g.JoinResponseFor(m.ID)}}
		}
		m.update(j)
		g.prepareRebalance(now, false)
		m.Joined = true
	default:
		return Result{Err: kerr.UnknownMemberID}
	}
	return Result{Join: &JoinOutcome{MemberID: m.ID, FromGeneration: from}}
}

// update takes a join's protocols, timeouts and client identity.
func (m *Member) update(j *Join) {
	m.ClientID, m.ClientHost = j.ClientID, j.ClientHost
	m.SessionTimeoutMs, m.RebalanceTimeoutMs = j.SessionTimeoutMs, j.RebalanceTimeoutMs
	m.Protocols = j.Protocols
}

// replaceStatic gives a known static member the new member id j carries; the
// old id is fenced from then on (Kafka's updateStaticMemberAndRebalance). A
// stable group whose chosen protocol stays keeps its generation and
// assignments: the member is answered at once and syncs for its old
// assignment, and it is told the old leader id so that, even when it
// replaced the leader, it does not assign again.
func (g *Group) replaceStatic(old *Member, j *Join, now int64) *JoinOutcome {
	oldID, leader := old.ID, g.Leader
	old.ID = j.MemberID
	if g.Leader == oldID {
		g.Leader = old.ID
	}
	oldProtocols := old.Protocols
	old.update(j)
	from := g.Generation
	switch g.State {
	case Stable:
		if g.selectProtocol() == g.Protocol {
			resp := g.JoinResponseFor(old.ID)
			resp.Leader, resp.Members = leader, nil
			return &JoinOutcome{MemberID: old.ID, Response: resp}
		}
		g.prepareRebalance(now, false)
	case CompletingRebalance:
		g.prepareRebalance(now, false)
	case PreparingRebalance:
	default:
		old.Protocols = oldProtocols
	}
	old.Joined = true
	g.maybeCompleteJoin(now)
	return &JoinOutcome{MemberID: old.ID, FromGeneration: from}
}

// prepareRebalance starts a rebalance unless one is under way: assignments
// are dropped (a SyncGroup waiting is answered REBALANCE_IN_PROGRESS) and
// every member must join again. One begun in an empty group waits for the
// initial delay when delayed is set.
func (g *Group) prepareRebalance(now int64, delayed bool) {
	if g.State == PreparingRebalance {
		return
	}
	g.DelayedJoin = delayed && g.State == Empty
	for _, m := range g.Members {
		m.Assignment = nil
		m.Joined = false
	}
	g.setState(PreparingRebalance, now)
}

func (g *Group) setState(s State, now int64) {
	g.State, g.StateSinceMs = s, now
}

// allJoined reports whether every member has joined the rebalance.
func (g *Group) allJoined() bool {
	for _, m := range g.Members {
		if !m.Joined {
			return false
		}
	}
	return true
}

// maybeCompleteJoin completes the join phase once every member has joined,
// unless the rebalance waits for the initial delay.
func (g *Group) maybeCompleteJoin(now int64) {
	if g.State == PreparingRebalance && !g.DelayedJoin && g.allJoined() {
		g.completeJoin(now)
	}
}

// completeJoin ends the join phase (Kafka's onCompleteJoin): dynamic members
// that did not join are removed, static ones stay; the leader is replaced
// by a joined member when it did not join; the generation moves on, with
// the protocol the members vote for. With no joined member and static
// members left, the rebalance goes on until their sessions expire.
func (gs *Groups) completeJoin(g *Group, now int64) { g.completeJoin(now) }

func (g *Group) completeJoin(now int64) {
	kept := g.Members[:0]
	joined := 0
	for _, m := range g.Members {
		if m.Joined || m.InstanceID != "" {
			kept = append(kept, m)
		}
		if m.Joined {
			joined++
		}
	}
	clear(g.Members[len(kept):])
	g.Members = kept
	if joined == 0 && len(g.Members) > 0 {
		return
	}
	if l := g.Member(g.Leader); l == nil || !l.Joined {
		g.Leader = ""
		for _, m := range g.Members {
			if m.Joined {
				g.Leader = m.ID
				break
			}
		}
	}
	g.Generation++
	g.DelayedJoin = false
	if len(g.Members) == 0 {
		g.Protocol, g.Leader = "", ""
		g.setState(Empty, now)
		return
	}
	g.Protocol = g.selectProtocol()
	g.setState(CompletingRebalance, now)
	for _, m := range g.Members {
		if m.Joined {
			m.JoinedGeneration = g.Generation
			m.Joined = false
		}
	}
}

// JoinResponseFor is the JoinGroup answer of member id as of the group's
// current generation: the leader gets every member's metadata for the
// chosen protocol.
func (g *Group) JoinResponseFor(id string) *JoinResponse {
	r := &JoinResponse{MemberID: id, Generation: g.Generation, ProtocolType: g.ProtocolType, Protocol: g.Protocol, Leader: g.Leader}
	if id == g.Leader {
		r.Members = make([]JoinMember, 0, len(g.Members))
		for _, m := range g.Members {
			r.Members = append(r.Members, JoinMember{MemberID: m.ID, InstanceID: m.InstanceID, Metadata: m.metadataFor(g.Protocol)})
		}
	}
	return r
}

// CheckSync is a SyncGroup's answer from the state, Kafka's checks in their
// order: the member's assignment when the group is stable, wait when it is
// completing its rebalance, or the error.
func (gs *Groups) CheckSync(name string, s *Sync) (assignment []byte, wait bool, err error) {
	g := gs.groups[name]
	switch {
	case g == nil:
		return nil, false, kerr.UnknownMemberID
	case g.fenced(s.MemberID, s.InstanceID):
		return nil, false, kerr.FencedInstanceID
	case g.Member(s.MemberID) == nil:
		return nil, false, kerr.UnknownMemberID
	case s.Generation != g.Generation:
		return nil, false, kerr.IllegalGeneration
	case s.ProtocolType != "" && s.ProtocolType != g.ProtocolType,
		s.Protocol != "" && s.Protocol != g.Protocol:
		return nil, false, kerr.InconsistentGroupProtocol
	}
	switch g.State {
	case PreparingRebalance:
		return nil, false, kerr.RebalanceInProgress
	case CompletingRebalance:
		return nil, true, nil
	case Stable:
		return g.Member(s.MemberID).Assignment, false, nil
	}
	return nil, false, kerr.UnknownMemberID
}

// sync applies the leader's SyncGroup: its assignments (none for a member
// it left out) end the rebalance. Any other sync changes nothing and is
// answered as CheckSync answers it.
func (gs *Groups) sync(name string, s *Sync, now int64) Result {
	assignment, wait, err := gs.CheckSync(name, s)
	if err != nil {
		return Result{Err: err}
	}
	g := gs.groups[name]
	if !wait || g.Leader != s.MemberID {
		return Result{Assignment: assignment}
	}
	for _, m := range g.Members {
		m.Assignment = nil
		for _, a := range s.Assignments {
			if a.MemberID == m.ID {
				m.Assignment = a.Assignment
				break
			}
		}
	}
	g.setState(Stable, now)
	return Result{Assignment: g.Member(s.MemberID).Assignment}
}

// CheckHeartbeat is a Heartbeat's answer from the state (Kafka's
// handleHeartbeat): nil while the member is in the current generation of a
// stable group or one completing its rebalance, REBALANCE_IN_PROGRESS while
// members must join again.
func (gs *Groups) CheckHeartbeat(name, memberID, instanceID string, generation int32) error {
	g := gs.groups[name]
	switch {
	case g == nil:
		return kerr.UnknownMemberID
	case g.fenced(memberID, instanceID):
		return kerr.FencedInstanceID
	case g.Member(memberID) == nil:
		return kerr.UnknownMemberID
	case generation != g.Generation:
		return kerr.IllegalGeneration
	}
	switch g.State {
	case PreparingRebalance:
		return kerr.RebalanceInProgress
	case CompletingRebalance, Stable:
		return nil
	}
	return kerr.UnknownMemberID
}

// leave removes members (Kafka's handleLeaveGroup): a static member by its
// instance id, fenced when the member id sent is not its own.
func (gs *Groups) leave(name string, leaving []LeavingMember, now int64) Result {
	errs := make([]error, len(leaving))
	g := gs.groups[name]
	if g == nil {
		for i := range errs {
			errs[i] = kerr.UnknownMemberID
		}
		return Result{Errs: errs}
	}
	var gone []string
	for i, lm := range leaving {
		var m *Member
		if lm.InstanceID != "" {
			m = g.StaticMember(lm.InstanceID)
			if m != nil && lm.MemberID != "" && m.ID != lm.MemberID {
				errs[i] = kerr.FencedInstanceID
				continue
			}
		} else {
			m = g.Member(lm.MemberID)
		}
		if m == nil {
			errs[i] = kerr.UnknownMemberID
			continue
		}
		gone = append(gone, m.ID)
	}
	g.removeMembers(gone, now)
	return Result{Errs: errs}
}

// expireMembers removes members whose sessions the coordinator saw expire;
// ids no longer in the group are skipped.
func (gs *Groups) expireMembers(name string, ids []string, now int64) {
	if g := gs.groups[name]; g != nil {
		g.removeMembers(ids, now)
	}
}

// removeMembers removes the members and moves the group on, as Kafka's
// removeMemberAndUpdateGroup: a removed leader is replaced by the first
// member left, a stable or completing group rebalances, and a rebalance
// waiting only for the removed members completes.
func (g *Group) removeMembers(ids []string, now int64) {
	removed := false
	for _, id := range ids {
		for i, m := range g.Members {
			if m.ID == id {
				g.Members = append(g.Members[:i], g.Members[i+1:]...)
				removed = true
				break
			}
		}
	}
	if !removed {
		return
	}
	if g.Member(g.Leader) == nil {
		g.Leader = ""
		if len(g.Members) > 0 {
			g.Leader = g.Members[0].ID
		}
	}
	switch g.State {
	case Stable, CompletingRebalance:
		g.prepareRebalance(now, false)
		g.maybeCompleteJoin(now)
	case PreparingRebalance:
		g.maybeCompleteJoin(now)
	}
}
