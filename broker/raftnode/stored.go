package raftnode

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/snapstore"
)

// storeNotifier is the node's one wrapper around its log store (under
// Raft's log cache). It tells proposers when their entry reached the
// leader's log store, for acks=1; it reports every write to the commit
// tracker and to the Observer (LogsStored); it reports the store's failures
// to the node (storageFault) and, once the node failed, writes nothing more
// (fault.go).
//
// On the leader, hashicorp/raft hands StoreLogs the very Log whose Data the
// proposer built, so the data pointer identifies it without widening the
// entry format. If that ever stops holding, acks=1 degrades to waiting for
// commit (Proposal.Stored closes when the proposal ends), never to an early
// acknowledgement.
type storeNotifier struct {
	raft.LogStore
	waiters sync.Map // *byte -> *waiter
	commits *commitTracker
	obs     Observer // nil when none
	node    *Node
	dir     string // the log's directory, named in faults

	// Writes in flight, by sequence number, with their start: a write
	// that never returns (a hung disk) is seen while it hangs, which the
	// write's duration, known only once it returns, cannot show.
	inflightMu sync.Mutex
	inflight   map[uint64]time.Time
	seq        uint64
}

// begin records a write starting now and returns its sequence number.
func (s *storeNotifier) begin() (uint64, time.Time) {
	now := time.Now()
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	if s.inflight == nil {
		s.inflight = map[uint64]time.Time{}
	}
	s.seq++
	s.inflight[s.seq] = now
	return s.seq, now
}

func (s *storeNotifier) end(seq uint64) {
	s.inflightMu.Lock()
	delete(s.inflight, seq)
	s.inflightMu.Unlock()
}

// oldestInFlight is how long the oldest write still in the store has been
// running, 0 when none is.
func (s *storeNotifier) oldestInFlight() time.Duration {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	var oldest time.Time
	for _, t := range s.inflight {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return time.Since(oldest)
}

// waiter is a proposal waiting for the leader's log store: the channel its
// acks=1 answer waits on, and when it was proposed, which with the entry's
// AppendedAt gives the time it queued inside hashicorp/raft.
type waiter struct {
	ch       chan struct{}
	proposed time.Time
}

func (s *storeNotifier) watch(data []byte, ch chan struct{}) *byte {
	if len(data) == 0 {
		return nil
	}
	key := unsafe.SliceData(data)
	s.waiters.Store(key, &waiter{ch: ch, proposed: time.Now()})
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
//
// Once the node failed, it refuses the write: an entry this node no longer
// writes must not count towards a commit, as the leader's own copy or as a
// follower's acknowledgement.
func (s *storeNotifier) StoreLogs(logs []*raft.Log) error {
	if err := s.node.refused(); err != nil {
		return err
	}
	seq, start := s.begin()
	err := s.LogStore.StoreLogs(logs)
	took := time.Since(start)
	s.end(seq)
	var proposed []time.Time
	if err == nil {
		for i, l := range logs {
			if len(l.Data) == 0 {
				continue
			}
			if v, ok := s.waiters.LoadAndDelete(unsafe.SliceData(l.Data)); ok {
				w := v.(*waiter)
				close(w.ch)
				if proposed == nil {
					proposed = make([]time.Time, len(logs))
				}
				proposed[i] = w.proposed
			}
		}
	}
	if s.obs != nil {
		s.obs.LogsStored(LogsStored{Logs: logs, Proposed: proposed, Duration: took, Err: err})
	}
	if err != nil {
		s.node.storageFault(OpRaftLogWrite, s.dir, err)
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
	err = s.LogStore.GetLog(index, l)
	if err != nil && !errors.Is(err, raft.ErrLogNotFound) && s.node.isRunning() {
		// hashicorp/raft panics on an entry it must apply and cannot
		// read; the fault stops the node instead.
		s.node.storageFault(OpRaftLogRead, s.dir, fmt.Errorf("entry %d: %w", index, err))
		stopRaftGoroutine()
	}
	return err
}

// DeleteRange removes compacted entries (after a snapshot) or a conflicting
// suffix (on a follower). A failure is a storage fault; once the node
// failed, nothing is removed.
func (s *storeNotifier) DeleteRange(min, max uint64) error {
	if err := s.node.refused(); err != nil {
		return err
	}
	err := s.LogStore.DeleteRange(min, max)
	if err != nil {
		s.node.storageFault(OpRaftLogWrite, s.dir, fmt.Errorf("delete entries %d to %d: %w", min, max, err))
	}
	return err
}

// IsMonotonic forwards raft-wal's raft.MonotonicLogStore marker. Without it
// Raft keeps a follower's old entries after InstallSnapshot, and raft-wal
// then refuses the next append: the follower would reinstall the snapshot
// forever and never catch up.
func (s *storeNotifier) IsMonotonic() bool {
	m, ok := s.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

// stableStore is the Raft log store's term and vote (raft.StableStore), as
// the running Raft writes them. hashicorp/raft panics when it cannot save
// its term, so a failed write, or any write once the node failed, reports
// the fault and ends the calling Raft goroutine (stopRaftGoroutine) rather
// than return.
type stableStore struct {
	raft.StableStore
	node *Node
	path string
}

func (s stableStore) Set(key, val []byte) error {
	s.check()
	err := s.StableStore.Set(key, val)
	s.failed(key, err)
	return err
}

func (s stableStore) SetUint64(key []byte, val uint64) error {
	s.check()
	err := s.StableStore.SetUint64(key, val)
	s.failed(key, err)
	return err
}

// check stops the calling Raft goroutine when the node already failed.
func (s stableStore) check() {
	if s.node.isRunning() && s.node.Fault() != nil {
		stopRaftGoroutine()
	}
}

func (s stableStore) failed(key []byte, err error) {
	if err == nil || !s.node.isRunning() {
		return
	}
	s.node.storageFault(OpRaftStateWrite, s.path, fmt.Errorf("save %s: %w", key, err))
	stopRaftGoroutine()
}

// snapshotStore is the node's snapshot store as Raft uses it: a snapshot
// that cannot be created or written, taken here or received from the
// leader, is a storage fault, and once the node failed no snapshot is
// created (the state it would capture may lack entries the node could not
// apply).
type snapshotStore struct {
	raft.SnapshotStore
	node *Node
	dir  string
}

func (s snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	if err := s.node.refused(); err != nil {
		return nil, err
	}
	sink, err := s.SnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		s.node.storageFault(OpSnapshotWrite, s.dir, err)
		return nil, err
	}
	return &snapshotSink{SnapshotSink: sink, store: s}, nil
}

type snapshotSink struct {
	raft.SnapshotSink
	store snapshotStore
}

func (s *snapshotSink) Write(p []byte) (int, error) {
	n, err := s.SnapshotSink.Write(p)
	s.failed(err)
	return n, err
}

func (s *snapshotSink) Close() error {
	err := s.SnapshotSink.Close()
	s.failed(err)
	return err
}

// Attach hands a snapshot's files to the store's sink (snapstore.Sink),
// which hard-links them.
func (s *snapshotSink) Attach(files []snapstore.Attachment) error {
	k, ok := s.SnapshotSink.(*snapstore.Sink)
	if !ok {
		return fmt.Errorf("raftnode: snapshots need raftline's snapshot store, not %T", s.SnapshotSink)
	}
	err := k.Attach(files)
	s.failed(err)
	return err
}

// failed reports err as a storage fault, unless it is a received
// snapshot's bytes that are not what its sender promised
// (snapstore.ErrBadStream): that is the sender's or the network's doing,
// and Raft sends the snapshot again.
func (s *snapshotSink) failed(err error) {
	if err != nil && !errors.Is(err, snapstore.ErrBadStream) {
		s.store.node.storageFault(OpSnapshotWrite, s.store.dir, fmt.Errorf("snapshot %s: %w", s.ID(), err))
	}
}
