package loadgen

import (
	"context"
	"sync"
	"time"
)

// fakeBroker is an in-memory topic that a fakeClients produces to and
// consumes from, with faults that can be injected by record number (the
// n-th record produced, counting from 1).
type fakeBroker struct {
	mu   sync.Mutex
	logs [][]fakeEntry
	n    int // records produced

	loseNth  int // acknowledge the record but drop it from the log
	dupNth   int // write the record twice, acknowledging the first
	swapNth  int // swap the record with the next one after both are acknowledged
	stallAt  int // block Produce of this record for stallFor
	stallFor time.Duration
	// readGate, if set, holds every read until it is closed: consumers
	// fall behind, as behind a rebalance.
	readGate chan struct{}
	// refuse, if set, is what every Poll returns instead of records.
	refuse error
}

type fakeEntry struct {
	msg     Message
	hole    bool // skipped by readers
	pending bool // not readable yet: readers stop before it
}

func newFakeBroker(partitions int) *fakeBroker {
	return &fakeBroker{logs: make([][]fakeEntry, partitions)}
}

func (b *fakeBroker) append(r Record) Ack {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	p := int32(b.n % len(b.logs))
	if b.swapNth > 0 && b.n == b.swapNth+1 {
		p = int32(b.swapNth % len(b.logs)) // keep the pair in one partition
	}
	log := &b.logs[p]
	add := func() int64 {
		off := int64(len(*log))
		*log = append(*log, fakeEntry{msg: Message{Partition: p, Offset: off, Key: r.Key, Value: r.Value}})
		return off
	}
	off := add()
	switch {
	case b.n == b.loseNth:
		(*log)[off].hole = true
	case b.n == b.dupNth:
		add()
	case b.swapNth > 0 && b.n == b.swapNth:
		// Hidden until its partner arrives, so that no reader can see the
		// pair before the swap.
		(*log)[off].pending = true
	case b.swapNth > 0 && b.n == b.swapNth+1:
		a, c := &(*log)[off-1], &(*log)[off]
		a.msg.Key, a.msg.Value, c.msg.Key, c.msg.Value = c.msg.Key, c.msg.Value, a.msg.Key, a.msg.Value
		a.pending = false
	}
	return Ack{Partition: p, Offset: off}
}

func (b *fakeBroker) offsets(end bool) map[int32]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[int32]int64)
	for p, log := range b.logs {
		if end {
			out[int32(p)] = int64(len(log))
		} else {
			out[int32(p)] = 0
		}
	}
	return out
}

// read returns up to max entries of partition p from off, skipping holes,
// and the offset to read from next.
func (b *fakeBroker) read(p int32, off int64, max int) ([]Message, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Message
	log := b.logs[p]
	for ; off < int64(len(log)) && len(out) < max && !log[off].pending; off++ {
		if !log[off].hole {
			out = append(out, log[off].msg)
		}
	}
	return out, off
}

type fakeClients struct{ b *fakeBroker }

// fakeGroupClients are fakeClients that answer the group's committed lag
// with lag().
type fakeGroupClients struct {
	fakeClients
	lag func() int64
}

func (c fakeGroupClients) CommittedLag(context.Context) (int64, error) { return c.lag(), nil }

func (c fakeClients) Sink(int) (Sink, error) { return &fakeSink{b: c.b}, nil }

func (c fakeClients) Source(_ int, offsets map[int32]int64) (Source, error) {
	if offsets == nil { // no groups in the fake: read everything
		offsets = c.b.offsets(false)
	}
	return &fakeSource{b: c.b, next: offsets}, nil
}

func (c fakeClients) Offsets(_ context.Context, end bool) (map[int32]int64, error) {
	return c.b.offsets(end), nil
}

type fakeSink struct{ b *fakeBroker }

func (s *fakeSink) Produce(ctx context.Context, r Record, done func(Ack)) {
	s.b.mu.Lock()
	stall := s.b.stallAt > 0 && s.b.n+1 == s.b.stallAt
	s.b.mu.Unlock()
	if stall {
		// As a real client blocks when its buffer is full.
		time.Sleep(s.b.stallFor)
	}
	if err := ctx.Err(); err != nil {
		done(Ack{Err: err})
		return
	}
	done(s.b.append(r))
}

func (s *fakeSink) Flush(context.Context) error { return nil }
func (s *fakeSink) Close()                      {}

type fakeSource struct {
	b    *fakeBroker
	next map[int32]int64
}

func (s *fakeSource) Poll(ctx context.Context) ([]Message, []error) {
	if s.b.refuse != nil {
		select {
		case <-ctx.Done():
		case <-time.After(time.Millisecond):
		}
		return nil, []error{s.b.refuse}
	}
	if s.b.readGate != nil {
		select {
		case <-ctx.Done():
			return nil, []error{ctx.Err()}
		case <-s.b.readGate:
		}
	}
	for ctx.Err() == nil {
		var out []Message
		for p, off := range s.next {
			msgs, next := s.b.read(p, off, 100)
			out = append(out, msgs...)
			s.next[p] = next
		}
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Millisecond):
		}
	}
	return nil, []error{ctx.Err()}
}

func (s *fakeSource) Close() {}
