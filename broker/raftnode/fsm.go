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
	"github.com/raftline/raftline/broker/snapstore"
)

// adapter is the one raft.FSM: fsm.State, plus the commit tracker told as
// each entry starts applying and the Observer told of applies, snapshots
// and restores.
type adapter struct {
	state    *fsm.State
	snaps    *snapstore.Store
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
	res, err := a.state.ApplyTerm(l.Index, l.Term, l.Data)
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
		a.storageErr(err)
		return nil, err
	}
	return &snapshot{snap: snap, obs: a.obs, fault: a.storageErr}, nil
}

// storageErr reports err to the node as a storage fault when it is one: a
// partition's files failed while a snapshot was taken, written or
// restored, and the state refuses every later entry.
func (a *adapter) storageErr(err error) {
	if errors.Is(err, fsm.ErrStorage) && a.fault != nil {
		a.fault(OpPartitionWrite, storagePath(err), err)
	}
}

// Restore reads the snapshot's frame and head from the stream; the files
// the head lists are opened from the snapshot store (the snapshot is in it,
// whether this node took it or received it), not read from the stream.
func (a *adapter) Restore(r io.ReadCloser) error {
	defer r.Close()
	a.restores.Add(1)
	start := time.Now()
	err := a.restore(r)
	a.storageErr(err)
	if a.obs != nil {
		a.obs.SnapshotRestored(SnapshotRestored{Duration: time.Since(start), Err: err})
	}
	return err
}

func (a *adapter) restore(r io.Reader) error {
	frame, head, err := snapstore.ReadFrame(r)
	if err != nil {
		return err
	}
	return a.state.Restore(head, func(name string) (io.ReadCloser, error) {
		return a.snaps.OpenFile(frame.ID, name)
	})
}

type snapshot struct {
	snap  *fsm.Snapshot
	obs   Observer
	fault func(error) // adapter.storageErr
}

// Persist syncs the snapshot's files (disk partitions' segments), attaches
// them to the sink, which hard-links them, then writes the head.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	start := time.Now()
	n, err := s.persist(sink)
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

func (s *snapshot) persist(sink raft.SnapshotSink) (int64, error) {
	// The files must be durable before the snapshot is kept: Raft
	// compacts its log up to the snapshot next.
	if err := s.snap.Sync(); err != nil {
		s.fault(err)
		return 0, err
	}
	files := s.snap.Files()
	k, ok := sink.(interface {
		Attach([]snapstore.Attachment) error
	})
	if !ok {
		return 0, fmt.Errorf("raftnode: snapshots need raftline's snapshot store, not %T", sink)
	}
	// Attached, even with no files: the sink then takes a local head,
	// not a stream received from another node.
	as := make([]snapstore.Attachment, len(files))
	var n int64
	for i, f := range files {
		as[i] = snapstore.Attachment{File: snapstore.File{Name: f.Name, Length: f.Length, CRC32C: f.CRC32C}, Path: f.Path}
		n += f.Length
	}
	if err := k.Attach(as); err != nil {
		return 0, err
	}
	w, err := s.snap.WriteTo(sink)
	return w + n, err
}

func (s *snapshot) Release() { s.snap.Release() }
