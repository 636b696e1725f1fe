package fsm

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/groups"
)

// applyGroup applies a change to the consumer groups. A commit's partitions
// are checked against the topics as of the same entry, so a commit racing
// a topic's deletion is refused on every replica alike.
func (s *State) applyGroup(c Command) ApplyResult {
	if c.Group == nil {
		return ApplyResult{Err: kerr.InvalidRequest}
	}
	s.mu.RLock()
	exists := func(topic string, partition int32) bool {
		_, err := s.topics[topic].Partition(partition)
		return err == nil
	}
	s.groupsMu.Lock()
	r := s.groups.Apply(*c.Group, c.TimeMs, exists)
	s.groupsMu.Unlock()
	s.mu.RUnlock()
	s.notifyGroups()
	return ApplyResult{Err: r.Err, Group: &r}
}

// ReadGroups calls fn with the consumer groups as applied, under their read
// lock: fn must not keep or change what it reads, nor block.
func (s *State) ReadGroups(fn func(*groups.Groups)) {
	s.groupsMu.RLock()
	defer s.groupsMu.RUnlock()
	fn(s.groups)
}

// GroupsChanged returns a channel closed at the next change to the consumer
// groups (any OpGroup entry, a deleted topic, a restored snapshot), for the
// coordinator's waiting JoinGroup and SyncGroup requests.
func (s *State) GroupsChanged() <-chan struct{} {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	if s.groupsChanged == nil {
		s.groupsChanged = make(chan struct{})
	}
	return s.groupsChanged
}

func (s *State) notifyGroups() {
	s.notifyMu.Lock()
	if s.groupsChanged != nil {
		close(s.groupsChanged)
		s.groupsChanged = nil
	}
	s.notifyMu.Unlock()
}
