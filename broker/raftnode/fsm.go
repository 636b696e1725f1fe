package raftnode

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/fsm"
)

// adapter is the thin raft.FSM around fsm.State.
type adapter struct {
	state    *fsm.State
	log      *slog.Logger
	restores atomic.Int64
}

var (
	_ raft.FSM         = (*adapter)(nil)
	_ raft.FSMSnapshot = (*snapshot)(nil)
)

func (a *adapter) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	res, err := a.state.Apply(l.Index, l.Data)
	if err != nil {
		// Skipping an entry would make this replica diverge from the
		// others; stopping is the only safe answer. It happens only when
		// a newer version wrote an op this one does not know.
		a.log.Error("cannot apply raft entry; stopping", "index", l.Index, "err", err)
		panic(fmt.Sprintf("raftline: cannot apply raft entry %d: %v", l.Index, err))
	}
	return res
}

func (a *adapter) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{snap: a.state.Snapshot()}, nil
}

func (a *adapter) Restore(r io.ReadCloser) error {
	defer r.Close()
	a.restores.Add(1)
	return a.state.Restore(r)
}

type snapshot struct{ snap *fsm.Snapshot }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.snap.WriteTo(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {}
