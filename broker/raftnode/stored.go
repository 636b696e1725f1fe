package raftnode

import (
	"sync"
	"time"
	"unsafe"

	"github.com/hashicorp/raft"
)

// storeNotifier is the node's one wrapper around its log store (under
// Raft's log cache). It tells proposers when their entry reached the
// leader's log store, for acks=1; it reports every write to the commit
// tracker and to the Observer (LogsStored).
//
// On the leader, hashicorp/raft hands StoreLogs the very Log whose Data the
// proposer built, so the data pointer identifies it without widening the
// entry format. If that ever stops holding, acks=1 degrades to waiting for
// commit (Proposal.Stored closes when the proposal ends), never to an early
// acknowledgement.
type storeNotifier struct {
	raft.LogStore
	waiters sync.Map // *byte -> chan struct{}
	commits *commitTracker
	obs     Observer // nil when none
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

// StoreLogs writes logs, then wakes their proposers, reports the write and
// lets the commit tracker count it, in that order: LogsStored comes before
// the EntryCommitted this write may complete.
func (s *storeNotifier) StoreLogs(logs []*raft.Log) error {
	var start time.Time
	var took time.Duration
	if s.obs != nil {
		start = time.Now()
	}
	err := s.LogStore.StoreLogs(logs)
	if s.obs != nil {
		took = time.Since(start)
	}
	if err == nil {
		for _, l := range logs {
			if len(l.Data) == 0 {
				continue
			}
			if ch, ok := s.waiters.LoadAndDelete(unsafe.SliceData(l.Data)); ok {
				close(ch.(chan struct{}))
			}
		}
	}
	if s.obs != nil {
		s.obs.LogsStored(LogsStored{Logs: logs, Duration: took, Err: err})
	}
	if err != nil {
		return err
	}
	s.commits.storedLogs(logs)
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
