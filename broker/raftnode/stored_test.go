package raftnode

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// hangingStore is a real in-memory log store whose StoreLogs waits until
// release is closed, as a write does on a disk that stopped answering.
type hangingStore struct {
	*raft.InmemStore
	entered chan struct{}
	release chan struct{}
}

func (h *hangingStore) StoreLogs(logs []*raft.Log) error {
	close(h.entered)
	<-h.release
	return h.InmemStore.StoreLogs(logs)
}

// A write that does not return is seen while it hangs: the oldest write in
// flight ages, and goes back to 0 once it returns.
func TestStoreNotifier_OldestInFlight_AgesWhileAWriteHangs(t *testing.T) {
	hs := &hangingStore{InmemStore: raft.NewInmemStore(), entered: make(chan struct{}), release: make(chan struct{})}
	s := &storeNotifier{LogStore: hs, commits: newCommitTracker("1", func(EntryCommitted) {})}
	if d := s.oldestInFlight(); d != 0 {
		t.Fatalf("oldest write in flight before any write: %v", d)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("x")}})
	}()
	<-hs.entered
	started := time.Now()
	first := s.oldestInFlight()
	// The age follows the clock while the write hangs.
	for time.Since(started) < 20*time.Millisecond {
		time.Sleep(time.Millisecond)
	}
	second := s.oldestInFlight()
	if second < 20*time.Millisecond || second <= first {
		t.Fatalf("oldest write in flight %v then %v while it hung for %v", first, second, time.Since(started))
	}
	close(hs.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := s.oldestInFlight(); d != 0 {
		t.Fatalf("oldest write in flight after it returned: %v", d)
	}
}
