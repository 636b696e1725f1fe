package groups

import "github.com/twmb/franz-go/pkg/kerr"

// commit applies an OffsetCommit (Kafka's handleCommitOffsets and
// validateOffsetCommit). A commit outside group management (generation -1,
// no member) creates an unknown group and is allowed only while the group
// is empty; a member's commit must be of the current generation of a group
// that is not completing a rebalance. Each partition is checked on its own:
// one that does not exist is UNKNOWN_TOPIC_OR_PARTITION.
func (gs *Groups) commit(name string, c *Commit, now int64, exists TopicExists) Result {
	g := gs.groups[name]
	if g == nil {
		if c.Generation >= 0 {
			return Result{Err: kerr.IllegalGeneration}
		}
		g = &Group{Name: name, State: Empty, StateSinceMs: now}
	}
	if err := g.checkCommit(c); err != nil {
		return Result{Err: err}
	}
	errs := make([]error, len(c.Offsets))
	stored := false
	for i, o := range c.Offsets {
		switch {
		case exists != nil && !exists(o.Topic, o.Partition):
			errs[i] = kerr.UnknownTopicOrPartition
		case len(o.Metadata) > MaxOffsetMetadata:
			errs[i] = kerr.OffsetMetadataTooLarge
		default:
			if g.Offsets == nil {
				g.Offsets = map[string]map[int32]Offset{}
			}
			ps := g.Offsets[o.Topic]
			if ps == nil {
				ps = map[int32]Offset{}
				g.Offsets[o.Topic] = ps
			}
			ps[o.Partition] = Offset{Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTimeMs: now}
			stored = true
		}
	}
	if stored {
		g.Commits++
		gs.groups[name] = g
	}
	return Result{Errs: errs}
}

func (g *Group) checkCommit(c *Commit) error {
	if c.Generation < 0 && c.MemberID == "" && c.InstanceID == "" {
		if g.State != Empty {
			return kerr.UnknownMemberID
		}
		return nil
	}
	switch {
	case g.fenced(c.MemberID, c.InstanceID):
		return kerr.FencedInstanceID
	case g.Member(c.MemberID) == nil:
		return kerr.UnknownMemberID
	case c.Generation != g.Generation:
		return kerr.IllegalGeneration
	case g.State == CompletingRebalance:
		// The member has its new generation but no assignment yet.
		return kerr.RebalanceInProgress
	}
	return nil
}

// deleteGroups deletes empty groups, their offsets with them (Kafka's
// handleDeleteGroups).
func (gs *Groups) deleteGroups(names []string) Result {
	errs := make([]error, len(names))
	for i, name := range names {
		g := gs.groups[name]
		switch {
		case g == nil:
			errs[i] = kerr.GroupIDNotFound
		case g.State != Empty:
			errs[i] = kerr.NonEmptyGroup
		default:
			delete(gs.groups, name)
		}
	}
	return Result{Errs: errs}
}

// deleteOffsets deletes a group's committed offsets (OffsetDelete, Kafka's
// handleDeleteOffsets): a consumer group's members must not subscribe to
// the topic, and another protocol's group must be empty.
func (gs *Groups) deleteOffsets(name string, parts []TopicPartition) Result {
	g := gs.groups[name]
	if g == nil {
		return Result{Err: kerr.GroupIDNotFound}
	}
	if g.State != Empty && g.ProtocolType != ConsumerProtocolType {
		return Result{Err: kerr.NonEmptyGroup}
	}
	subscribed, known := g.SubscribedTopics()
	errs := make([]error, len(parts))
	for i, p := range parts {
		if g.State != Empty && (!known || subscribed[p.Topic]) {
			errs[i] = kerr.GroupSubscribedToTopic
			continue
		}
		g.deleteOffset(p.Topic, p.Partition)
	}
	gs.dropIfDone(g)
	return Result{Errs: errs}
}

func (g *Group) deleteOffset(topic string, partition int32) {
	if ps := g.Offsets[topic]; ps != nil {
		delete(ps, partition)
		if len(ps) == 0 {
			delete(g.Offsets, topic)
		}
	}
}

// dropIfDone removes an empty group with no offsets left, as Kafka turns it
// Dead.
func (gs *Groups) dropIfDone(g *Group) {
	if g.State == Empty && len(g.Members) == 0 && len(g.Offsets) == 0 {
		delete(gs.groups, g.Name)
	}
}

// expireOffsets drops offsets older than the retention (Kafka's
// offsets.retention.minutes, GroupMetadata.removeExpiredOffsets): every
// offset of a group empty for that long; in a stable consumer group, those
// of topics no member subscribes to, by their commit time; in a group that
// only stores offsets (no protocol type), each by its commit time. A group
// left empty with no offsets is removed.
func (gs *Groups) expireOffsets(now, retentionMs int64) {
	if retentionMs <= 0 {
		return
	}
	for _, name := range gs.Names() {
		g := gs.groups[name]
		switch {
		case g.ProtocolType != "" && g.State == Empty:
			if now-g.StateSinceMs >= retentionMs {
				g.Offsets = nil
			}
		case g.ProtocolType == ConsumerProtocolType && g.State == Stable:
			if subscribed, ok := g.SubscribedTopics(); ok {
				g.expireBy(now, retentionMs, subscribed)
			}
		case g.ProtocolType == "":
			g.expireBy(now, retentionMs, nil)
		}
		gs.dropIfDone(g)
	}
}

// expireBy drops offsets committed longer than the retention ago, except
// those of the topics kept.
func (g *Group) expireBy(now, retentionMs int64, keep map[string]bool) {
	for topic, ps := range g.Offsets {
		if keep[topic] {
			continue
		}
		for p, o := range ps {
			if now-o.CommitTimeMs >= retentionMs {
				delete(ps, p)
			}
		}
		if len(ps) == 0 {
			delete(g.Offsets, topic)
		}
	}
}

// DeleteTopic drops every group's offsets of a deleted topic, and the empty
// groups that leaves without offsets.
func (gs *Groups) DeleteTopic(topic string) {
	for _, name := range gs.Names() {
		g := gs.groups[name]
		if _, ok := g.Offsets[topic]; ok {
			delete(g.Offsets, topic)
			gs.dropIfDone(g)
		}
	}
}
