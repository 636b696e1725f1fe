package raftnode

import (
	"sync"
	"unsafe"

	"github.com/hashicorp/raft"
)

// storeNotifier wraps the log store. It tells proposers when their entry reached the leader's log
// store, for acks=1. On the leader, hashicorp/raft hands StoreLogs the very
// Log whose Data the proposer built, so the data pointer identifies it without
// widening the entry format. If that ever stops holding, acks=1 degrades to
// waiting for commit (Proposal.Stored closes when the proposal ends), never to
// an early acknowledgement.
type storeNotifier struct {
	raft.LogStore
	waiters sync.Map // *byte -> chan struct{}
}

func (s *storeNotifier) watch(data []byte, ch chan struct{}) *byte {
	if len(data) == 0 {
		return nil
	}
	key := unsafe.SliceData(data)
	s.waiters.Store(key, ch)
	return key
}

// unwatch forgets a proposal and closes its channel if StoreLogs did not.
func (s *storeNotifier) unwatch(key *byte, ch chan struct{}) {
	if key != nil {
		if _, ok := s.waiters.LoadAndDelete(key); !ok {
			return // StoreLogs closed it
		}
	}
	close(ch)
}

func (s *storeNotifier) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *storeNotifier) StoreLogs(logs []*raft.Log) error {
	if err := s.LogStore.StoreLogs(logs); err != nil {
		return err
	}
	for _, l := range logs {
		if len(l.Data) == 0 {
			continue
		}
		if ch, ok := s.waiters.LoadAndDelete(unsafe.SliceData(l.Data)); ok {
			close(ch.(chan struct{}))
		}
	}
	return nil
}

// GetLog refuses entries below the first index. raft-wal keeps serving
// entries that DeleteRange compacted away while they sit in its open tail
// segment; the leader must instead see them as gone, so a follower that is
// that far behind catches up by snapshot, as the LogStore contract says.
func (s *storeNotifier) GetLog(index uint64, l *raft.Log) error {
	first, err := s.LogStore.FirstIndex()
	if err != nil {
		return err
	}
	if index < first {
		return raft.ErrLogNotFound
	}
	return s.LogStore.GetLog(index, l)
}

// IsMonotonic forwards raft-wal's raft.MonotonicLogStore marker. Without it
// Raft keeps a follower's old entries after InstallSnapshot, and raft-wal
// then refuses the next append: the follower would reinstall the snapshot
// forever and never catch up.
func (s *storeNotifier) IsMonotonic() bool {
	m, ok := s.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
