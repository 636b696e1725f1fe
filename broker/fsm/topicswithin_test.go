package fsm

import (
	"testing"
	"time"
)

// A reader that must not wait on an apply gets the topics while nothing
// holds the state, and gives up, rather than wait, while an apply holds it
// (as a produce does while its write to a hung disk blocks).
func TestTopicsWithin_GivesUpWhileAnApplyHoldsTheState(t *testing.T) {
	s := New()
	if r := s.ApplyCommand(1, Command{Op: OpCreateTopic, Topic: &CreateTopic{Name: "t", Partitions: 2}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	ts, ok := s.TopicsWithin(time.Second)
	if !ok || len(ts) != 1 || ts[0].Name != "t" || len(ts[0].Partitions) != 2 {
		t.Fatalf("TopicsWithin on a free state = %v, %v; want topic t with 2 partitions", ts, ok)
	}

	s.mu.Lock() // an apply, stuck
	defer s.mu.Unlock()
	start := time.Now()
	if ts, ok := s.TopicsWithin(50 * time.Millisecond); ok {
		t.Fatalf("TopicsWithin while an apply holds the state = %v, true; want false", ts)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("gave up after %v, before the 50ms it was given", waited)
	}
}
