package raftnode

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// logStore is a node's durable Raft log and stable store: raft-wal (chosen
// by measurement, see DESIGN.md) and the bolt database that holds its
// segment metadata and Raft's term and vote.
//
// It must survive SIGKILL at any point, including right after Raft clears a
// conflicting log suffix: raft-wal before v0.4.1 sealed the tail segment on
// such a truncation without writing its index block, and the restarted node
// then panicked reading its own log. TestLogStore_TailTruncation_SurvivesReopen
// keeps that fixed.
type logStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

func openLogStore(dir string, logger hclog.Logger) (*logStore, error) {
	dir = filepath.Join(dir, "wal")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// raft-wal's Close leaves its metadata database open (and locked), so
	// the store owns it and closes it after the WAL; otherwise the same
	// process could not reopen the store.
	meta := &metadb.BoltMetaDB{}
	w, err := wal.Open(dir, wal.WithLogger(logger), wal.WithMetaStore(meta))
	if err != nil {
		meta.Close()
		return nil, fmt.Errorf("open raft log store: %w", err)
	}
	return &logStore{WAL: w, meta: meta}, nil
}

// Close closes the WAL, then its metadata database.
func (s *logStore) Close() error {
	err := s.WAL.Close()
	if merr := s.meta.Close(); err == nil {
		err = merr
	}
	return err
}
