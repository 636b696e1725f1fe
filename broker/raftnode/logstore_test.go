package raftnode

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestLogStore_TailTruncation_SurvivesReopen replays what a follower's log
// store goes through when a new leader overwrites its uncommitted suffix
// ("clearing log suffix" in Raft's log): entries appended, the tail deleted,
// new entries of a later term appended in their place, then the process
// restarts. Every entry must read back, with the later term where it
// replaced the old one. With raft-wal v0.4.0 the reopened store failed with
// "sealed segment has no index block" and the node panicked at start-up.
func TestLogStore_TailTruncation_SurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	entry := func(index, term uint64) *raft.Log {
		return &raft.Log{Index: index, Term: term, Type: raft.LogCommand, Data: fmt.Appendf(nil, "entry %d of term %d", index, term)}
	}
	want := map[uint64]*raft.Log{}
	store := func(s *logStore, logs ...*raft.Log) {
		t.Helper()
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		for _, l := range logs {
			want[l.Index] = l
		}
	}

	s, err := openLogStore(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 20; i++ {
		store(s, entry(i, 1))
	}
	// Raft's follower truncates from the first conflicting index to its
	// last index, then stores the leader's entries.
	if err := s.DeleteRange(15, 20); err != nil {
		t.Fatal(err)
	}
	for i := uint64(15); i <= 20; i++ {
		delete(want, i)
	}
	for i := uint64(15); i <= 17; i++ {
		store(s, entry(i, 2))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = openLogStore(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("reopen after tail truncation: %v", err)
	}
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 1 || last != 17 {
		t.Fatalf("reopened log spans %d..%d, want 1..17", first, last)
	}
	for i := first; i <= last; i++ {
		var got raft.Log
		if err := s.GetLog(i, &got); err != nil {
			t.Fatalf("read entry %d after reopen: %v", i, err)
		}
		if w := want[i]; got.Term != w.Term || !bytes.Equal(got.Data, w.Data) {
			t.Fatalf("entry %d after reopen: term %d %q, want term %d %q", i, got.Term, got.Data, w.Term, w.Data)
		}
	}
	// And the store keeps accepting appends where the log ends.
	store(s, entry(18, 2))
}
