package raftnode

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/seglog"
)

// adapter is the one raft.FSM: fsm.State, plus the commit tracker told as
// each entry starts applying and the Observer told of applies, snapshots
// and restores.
type adapter struct {
	state    *fsm.State
	log      *slog.Logger
	commits  *commitTracker
	obs      Observer // nil when none
	restores atomic.Int64
	// fault reports a storage failure to the node (Node.storageFault).
	fault func(op StorageOp, path string, err error)
}

var (
	_ raft.FSM         = (*adapter)(nil)
	_ raft.FSMSnapshot = (*snapshot)(nil)
)

func (a *adapter) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	// First: an entry the quorum count missed is reported committed
	// before its apply starts.
	a.commits.applying(l)
	var start time.Time
	if a.obs != nil {
		start = time.Now()
	}
	res, err := a.state.Apply(l.Index, l.Data)
	if errors.Is(err, fsm.ErrStorage) {
		// The disk under a partition failed (the error names the
		// operation and the file): the state refuses this entry and
		// every later one, and the node stops (fault.go). The entry is
		// answered with the failure, never as applied.
		a.fault(OpPartitionWrite, storagePath(err), fmt.Errorf("apply entry %d: %w", l.Index, err))
		if res.Err == nil {
			res.Err = err
		}
	} else if err != nil {
		// Skipping an entry would make this replica diverge from the
		// others; stopping is the only safe answer. It happens when a
		// newer version wrote an op this one does not know.
		a.log.Error("cannot apply raft entry; stopping", "index", l.Index, "err", err)
		panic(fmt.Sprintf("raftline: cannot apply raft entry %d: %v", l.Index, err))
	}
	if a.obs != nil {
		a.obs.EntryApplied(EntryApplied{
			Index: l.Index, Term: l.Term, Extensions: l.Extensions,
			Start: start, Duration: time.Since(start), Err: resultErr(res),
		})
	}
	return res
}

// storagePath is the file a partition's storage error names (seglog's
// Error), or "" when it names none in a form read here.
func storagePath(err error) string {
	var se *seglog.Error
	if errors.As(err, &se) {
		return se.Path
	}
	return ""
}

// resultErr is an entry's error as its proposer sees it: the command's, else
// the first partition's.
func resultErr(r fsm.ApplyResult) error {
	if r.Err != nil {
		return r.Err
	}
	for _, p := range r.Partitions {
		if p.Err != nil {
			return p.Err
		}
	}
	return nil
}

func (a *adapter) Snapshot() (raft.FSMSnapshot, error) {
	snap, err := a.state.Snapshot()
	if err != nil {
		return nil, err
	}
	return &snapshot{snap: snap, obs: a.obs}, nil
}

func (a *adapter) Restore(r io.ReadCloser) error {
	defer r.Close()
	a.restores.Add(1)
	start := time.Now()
	err := a.state.Restore(r)
	if a.obs != nil {
		a.obs.SnapshotRestored(SnapshotRestored{Duration: time.Since(start), Err: err})
	}
	return err
}

type snapshot struct {
	snap *fsm.Snapshot
	obs  Observer
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	start := time.Now()
	n, err := s.snap.WriteTo(sink)
	if err != nil {
		sink.Cancel()
	} else {
		err = sink.Close()
	}
	if s.obs != nil {
		s.obs.SnapshotTaken(SnapshotTaken{Duration: time.Since(start), Size: n, Err: err})
	}
	return err
}

func (s *snapshot) Release() { s.snap.Release() }
