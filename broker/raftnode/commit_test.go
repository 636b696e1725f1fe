package raftnode

import (
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

type fakeRaft struct {
	mu    sync.Mutex
	state raft.RaftState
	cfg   raft.Configuration
}

func (s *fakeRaft) State() raft.RaftState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *fakeRaft) GetConfiguration() raft.ConfigurationFuture { return configFuture{s.cfg} }

type configFuture struct{ c raft.Configuration }

func (f configFuture) Error() error                      { return nil }
func (f configFuture) Index() uint64                     { return 0 }
func (f configFuture) Configuration() raft.Configuration { return f.c }

func voters(ids ...raft.ServerID) raft.Configuration {
	var c raft.Configuration
	for _, id := range ids {
		c.Servers = append(c.Servers, raft.Server{ID: id, Suffrage: raft.Voter, Address: raft.ServerAddress(id)})
	}
	return c
}

// harness is a commit tracker under the log store wrapper and FSM adapter,
// as node 1 of a three-voter cluster.
type harness struct {
	t         *testing.T
	c         *commitTracker
	src       *fakeRaft
	logs      raft.LogStore
	committed []EntryCommitted
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, src: &fakeRaft{state: raft.Leader, cfg: voters("1", "2", "3")}}
	h.c = newCommitTracker("1", func(c EntryCommitted) { h.committed = append(h.committed, c) })
	h.logs = &storeNotifier{LogStore: raft.NewInmemStore(), commits: h.c}
	h.c.attach(h.src)
	if n := len(h.c.configuration()); n != 3 {
		t.Fatalf("configuration read at attach: %d servers", n)
	}
	return h
}

func (h *harness) store(term uint64, from, to uint64) {
	h.t.Helper()
	var logs []*raft.Log
	for i := from; i <= to; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, AppendedAt: time.Unix(int64(i), 0), Extensions: []byte{byte(i)}})
	}
	if err := h.logs.StoreLogs(logs); err != nil {
		h.t.Fatal(err)
	}
}

// ack answers an AppendEntries to id that carried entries up to last.
func (h *harness) ack(id raft.ServerID, term, last uint64, success bool) {
	done := h.c.sent(id, &raft.AppendEntriesRequest{Term: term, PrevLogEntry: last - 1, Entries: []*raft.Log{{Index: last, Term: term}}})
	done(&raft.AppendEntriesResponse{Term: term, Success: success}, nil)
}

func (h *harness) committedIndexes() []uint64 {
	var out []uint64
	for _, c := range h.committed {
		out = append(out, c.Index)
	}
	return out
}

func TestCommitTracker_CommitsWhenAQuorumHoldsTheEntry(t *testing.T) {
	h := newHarness(t)
	h.store(1, 1, 3)
	if len(h.committed) != 0 {
		t.Fatalf("committed %v with only the leader holding them", h.committedIndexes())
	}
	h.ack("2", 1, 2, false)
	if len(h.committed) != 0 {
		t.Fatalf("a rejected AppendEntries committed %v", h.committedIndexes())
	}
	h.ack("2", 1, 2, true)
	if got := h.committedIndexes(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("committed %v, want [1 2]", got)
	}
	c := h.committed[1]
	if !c.AppendedAt.Equal(time.Unix(2, 0)) || c.Term != 1 || len(c.Extensions) != 1 || c.Extensions[0] != 2 || c.At.IsZero() {
		t.Errorf("commit record %+v", c)
	}
	h.ack("3", 1, 3, true)
	if got := h.committedIndexes(); len(got) != 3 || got[2] != 3 {
		t.Fatalf("committed %v, want [1 2 3]", got)
	}
	m := h.c.matches()
	if m["2"] != 2 || m["3"] != 3 || len(m) != 2 {
		t.Errorf("matches %v", m)
	}
	// A heartbeat says nothing.
	if h.c.sent("2", &raft.AppendEntriesRequest{Term: 1}) != nil {
		t.Error("heartbeat tracked")
	}
}

func TestCommitTracker_NewTermForgetsTheOldLeadership(t *testing.T) {
	h := newHarness(t)
	h.store(1, 1, 2)
	h.ack("2", 1, 1, true)
	h.store(3, 3, 3) // re-elected in term 3
	if m := h.c.matches(); len(m) != 0 {
		t.Errorf("matches %v survived the new term", m)
	}
	h.ack("2", 1, 2, true) // a late answer from term 1
	h.ack("3", 3, 3, true)
	if got := h.committedIndexes(); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("committed %v, want [1 3]", got)
	}
}

func TestCommitTracker_ApplyReportsWhatTheQuorumCountMissed(t *testing.T) {
	h := newHarness(t)
	h.store(1, 1, 2)
	h.c.applying(&raft.Log{Index: 1, Term: 1, Type: raft.LogCommand})
	if got := h.committedIndexes(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("committed %v, want [1]", got)
	}
	// An entry replaced by another leader's is dropped, not reported.
	h.c.applying(&raft.Log{Index: 2, Term: 5, Type: raft.LogCommand})
	h.ack("2", 1, 2, true)
	if got := h.committedIndexes(); len(got) != 1 {
		t.Fatalf("committed %v, want [1]", got)
	}
}

func TestCommitTracker_FollowerTracksNothingButConfiguration(t *testing.T) {
	h := newHarness(t)
	h.src.mu.Lock()
	h.src.state = raft.Follower
	h.src.mu.Unlock()
	h.store(1, 1, 3)
	if len(h.committed) != 0 || h.c.matches() != nil {
		t.Fatalf("follower tracked %v, %v", h.committedIndexes(), h.c.matches())
	}
	cfg := voters("1", "2", "3", "4", "5")
	if err := h.logs.StoreLog(&raft.Log{Index: 4, Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(cfg)}); err != nil {
		t.Fatal(err)
	}
	if n := len(h.c.configuration()); n != 5 {
		t.Errorf("configuration entry not followed: %d servers", n)
	}
}
