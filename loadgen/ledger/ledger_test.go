package ledger

import (
	"strings"
	"sync"
	"testing"
)

// ackAll acknowledges ids at consecutive offsets of partition from 0.
func ackAll(l *Ledger, partition int32, ids ...uint64) {
	for off, id := range ids {
		l.Acked(partition, int64(off), id)
	}
}

// consumeAll consumes ids at consecutive offsets of partition from 0.
func consumeAll(l *Ledger, partition int32, ids ...uint64) {
	for off, id := range ids {
		l.Consumed(partition, int64(off), id)
	}
}

func TestLedger_AllConsumedOnceInOrder_OK(t *testing.T) {
	l := New()
	ackAll(l, 0, 1, 2, 3)
	ackAll(l, 1, 4, 5)
	consumeAll(l, 1, 4, 5)
	consumeAll(l, 0, 1, 2, 3)

	r := l.Report()
	want := Report{Acked: 5, Consumed: 5}
	if r.String() != want.String() || !r.OK() || len(r.Examples) != 0 {
		t.Fatalf("got %v %q, want %v", r, r.Examples, want)
	}
	if n := l.Outstanding(); n != 0 {
		t.Errorf("Outstanding = %d, want 0", n)
	}
}

// In an end-to-end run a consumer may read a record before its producer
// hears the acknowledgement.
func TestLedger_ConsumedBeforeAcked_OK(t *testing.T) {
	l := New()
	l.Consumed(0, 0, 7)
	l.Consumed(0, 1, 8)
	l.Acked(0, 1, 8)
	l.Acked(0, 0, 7)
	if r := l.Report(); !r.OK() || r.Consumed != 2 || r.Unacked != 0 {
		t.Fatalf("got %v", r)
	}
}

func TestLedger_Lost(t *testing.T) {
	l := New()
	ackAll(l, 0, 1, 2, 3)
	l.Consumed(0, 0, 1)
	l.Consumed(0, 2, 3)

	r := l.Report()
	if r.OK() || r.Lost != 1 || r.Consumed != 2 || r.Duplicated != 0 || r.Reordered != 0 {
		t.Fatalf("got %v", r)
	}
	if l.Outstanding() != 1 {
		t.Errorf("Outstanding = %d, want 1", l.Outstanding())
	}
	if !strings.Contains(strings.Join(r.Examples, "\n"), "lost: record 2 acked at partition 0 offset 1") {
		t.Errorf("examples %q do not name the lost record", r.Examples)
	}
}

func TestLedger_DuplicatedInLog(t *testing.T) {
	l := New()
	ackAll(l, 0, 1, 2)
	consumeAll(l, 0, 1, 2, 2) // a retried send was written twice, at offsets 1 and 2

	r := l.Report()
	if r.OK() || r.Duplicated != 1 || r.Redelivered != 0 || r.Lost != 0 || r.Reordered != 0 || r.Misplaced != 0 {
		t.Fatalf("got %v", r)
	}
}

func TestLedger_Redelivered(t *testing.T) {
	l := New()
	ackAll(l, 0, 1, 2)
	consumeAll(l, 0, 1, 2)
	l.Consumed(0, 1, 2) // read again from the same offset, as after a rebalance

	r := l.Report()
	if r.OK() || r.Duplicated != 1 || r.Redelivered != 1 || r.Reordered != 0 || r.Conflicts != 0 {
		t.Fatalf("got %v", r)
	}
}

func TestLedger_Reordered(t *testing.T) {
	l := New()
	ackAll(l, 0, 1, 2, 3, 4)
	// The consumer sees offsets 0, 2, 1, 3: record 2 arrives after record 3
	// although it was acknowledged before it.
	l.Consumed(0, 0, 1)
	l.Consumed(0, 2, 3)
	l.Consumed(0, 1, 2)
	l.Consumed(0, 3, 4)

	r := l.Report()
	if r.OK() || r.Reordered != 1 || r.Lost != 0 || r.Duplicated != 0 || r.Misplaced != 0 {
		t.Fatalf("got %v", r)
	}
}

// Swapping two records in the log reorders them and also moves each away
// from its acknowledged offset.
func TestLedger_SwappedInLog_ReorderedAndMisplaced(t *testing.T) {
	l := New()
	ackAll(l, 0, 1, 2, 3)
	consumeAll(l, 0, 1, 3, 2)

	r := l.Report()
	if r.OK() || r.Reordered != 1 || r.Misplaced != 2 || r.Conflicts != 2 || r.Lost != 0 {
		t.Fatalf("got %v", r)
	}
}

// Partitions are ordered independently: interleaving reads of two partitions
// is not a reordering.
func TestLedger_InterleavedPartitions_NotReordered(t *testing.T) {
	l := New()
	ackAll(l, 0, 1, 2)
	ackAll(l, 1, 3, 4)
	l.Consumed(1, 0, 3)
	l.Consumed(0, 0, 1)
	l.Consumed(1, 1, 4)
	l.Consumed(0, 1, 2)
	if r := l.Report(); !r.OK() {
		t.Fatalf("got %v", r)
	}
}

// After a truncation a new leader can acknowledge a different record at an
// offset already acknowledged: the first record is lost and the offset is
// in conflict.
func TestLedger_OffsetReused_LostAndConflict(t *testing.T) {
	l := New()
	l.Acked(0, 0, 1)
	l.Acked(0, 1, 2)
	l.Acked(0, 1, 3) // reused offset
	consumeAll(l, 0, 1, 3)

	r := l.Report()
	if r.OK() || r.Lost != 1 || r.Conflicts != 1 || r.Consumed != 2 {
		t.Fatalf("got %v", r)
	}
}

func TestLedger_UnackedConsumed_NotAnError(t *testing.T) {
	l := New()
	l.Acked(0, 0, 1)
	consumeAll(l, 0, 1, 2) // record 2's send failed but was written
	r := l.Report()
	if !r.OK() || r.Unacked != 1 {
		t.Fatalf("got %v", r)
	}
}

func TestLedger_ConcurrentUse(t *testing.T) {
	l := New()
	const n = 10_000
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range n {
			l.Acked(int32(i%4), int64(i/4), uint64(i))
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			l.Consumed(int32(i%4), int64(i/4), uint64(i))
		}
	}()
	wg.Wait()
	if r := l.Report(); !r.OK() || r.Acked != n || r.Consumed != n {
		t.Fatalf("got %v", r)
	}
}
