// Package ledger checks that every acknowledged record is consumed exactly
// once and in per-partition order.
//
// A producer tells the ledger what the broker acknowledged and a consumer
// tells it what it read; Report compares the two. The ledger holds every
// record it is told about, so it is exact, and it makes no assumption about
// the order of the two calls for one record: in an end-to-end test the
// consumer often sees a record before the producer's acknowledgement arrives.
// It is safe for concurrent use.
package ledger

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
)

// Report is the outcome of a verification. Counts are of distinct records
// unless said otherwise.
type Report struct {
	// Acked is how many records the broker acknowledged.
	Acked int64 `json:"acked"`
	// Consumed is how many acknowledged records were consumed at least once.
	Consumed int64 `json:"consumed"`
	// Lost is how many acknowledged records were never consumed.
	Lost int64 `json:"lost"`
	// Duplicated is how many records were consumed more than once.
	Duplicated int64 `json:"duplicated"`
	// Redelivered is the part of Duplicated whose copies were all read from
	// one offset: the log holds the record once but a consumer read it
	// again, as after a consumer group rebalance.
	Redelivered int64 `json:"redelivered"`
	// Reordered is how many records were first consumed after a record that
	// the broker acknowledged at a later offset of the same partition.
	Reordered int64 `json:"reordered"`
	// Misplaced is how many acknowledged records were consumed, but never at
	// the partition and offset of their acknowledgement.
	Misplaced int64 `json:"misplaced"`
	// Conflicts is how many partition offsets were associated with more than
	// one record, by acknowledgements or consumption: an offset reused after
	// a truncation, say.
	Conflicts int64 `json:"conflicts"`
	// Unacked is how many consumed records were never acknowledged. This is
	// not an error: a send that failed or was cut short may still have
	// been written.
	Unacked int64 `json:"unacked"`
	// Examples describes a few of the anomalies, for debugging.
	Examples []string `json:"examples,omitempty"`
}

// OK reports whether every acknowledged record was consumed exactly once, in
// order, where it was acknowledged.
func (r Report) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.Reordered == 0 && r.Misplaced == 0 && r.Conflicts == 0
}

// String is a one-line summary.
func (r Report) String() string {
	verdict := "OK"
	if !r.OK() {
		verdict = "FAILED"
	}
	return fmt.Sprintf("verify %s: acked %d, consumed %d, lost %d, duplicated %d (redelivered %d), reordered %d, misplaced %d, conflicts %d, unacked %d",
		verdict, r.Acked, r.Consumed, r.Lost, r.Duplicated, r.Redelivered, r.Reordered, r.Misplaced, r.Conflicts, r.Unacked)
}

// maxExamples bounds Report.Examples per kind of anomaly.
const maxExamples = 5

type pos struct {
	partition int32
	offset    int64
}

func (p pos) String() string { return fmt.Sprintf("partition %d offset %d", p.partition, p.offset) }

// record is what the ledger knows about one record id.
type record struct {
	acked      bool
	ackedAt    pos
	deliveries uint32
	firstAt    pos  // where it was first consumed
	elsewhere  bool // consumed at a second, different position
}

type delivery struct {
	offset int64
	id     uint64
}

// Ledger records acknowledgements and consumption. The zero value is not
// usable; call New.
type Ledger struct {
	mu        sync.Mutex
	records   map[uint64]*record
	atPos     map[pos]uint64       // the first record seen at each position
	conflicts map[pos]struct{}     // positions that saw a second record
	consumed  map[int32][]delivery // each partition's consumption, in call order
	acked     int64
	pending   int64 // acknowledged and not yet consumed
}

// New returns an empty Ledger.
func New() *Ledger {
	return &Ledger{
		records:   make(map[uint64]*record),
		atPos:     make(map[pos]uint64),
		conflicts: make(map[pos]struct{}),
		consumed:  make(map[int32][]delivery),
	}
}

// Acked records that the broker acknowledged the record id at partition and
// offset. A second acknowledgement of the same id is ignored.
func (l *Ledger) Acked(partition int32, offset int64, id uint64) {
	p := pos{partition, offset}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.get(id)
	if r.acked {
		return
	}
	r.acked, r.ackedAt = true, p
	l.acked++
	if r.deliveries == 0 {
		l.pending++
	}
	l.see(p, id)
}

// Consumed records that a consumer read the record id at partition and
// offset. Call it once per record read, including reads of the same offset.
func (l *Ledger) Consumed(partition int32, offset int64, id uint64) {
	p := pos{partition, offset}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.get(id)
	if r.deliveries == 0 {
		r.firstAt = p
		if r.acked {
			l.pending--
		}
	} else if p != r.firstAt {
		r.elsewhere = true
	}
	r.deliveries++
	l.consumed[partition] = append(l.consumed[partition], delivery{offset, id})
	l.see(p, id)
}

// Outstanding is how many acknowledged records have not been consumed yet. A
// test that stops producing can wait for it to reach zero.
func (l *Ledger) Outstanding() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending
}

func (l *Ledger) get(id uint64) *record {
	r, ok := l.records[id]
	if !ok {
		r = &record{}
		l.records[id] = r
	}
	return r
}

// see notes that id was at p and flags the position if another id was there.
func (l *Ledger) see(p pos, id uint64) {
	first, ok := l.atPos[p]
	if !ok {
		l.atPos[p] = id
	} else if first != id {
		l.conflicts[p] = struct{}{}
	}
}

// Report compares what was acknowledged with what was consumed so far.
func (l *Ledger) Report() Report {
	l.mu.Lock()
	defer l.mu.Unlock()

	rep := Report{Acked: l.acked, Conflicts: int64(len(l.conflicts))}
	var lost, dup, misplaced, unacked []uint64
	for id, r := range l.records {
		switch {
		case r.acked && r.deliveries == 0:
			lost = append(lost, id)
		case r.acked:
			rep.Consumed++
			if !l.readWhereAcked(id, r) {
				misplaced = append(misplaced, id)
			}
		case r.deliveries > 0:
			unacked = append(unacked, id)
		}
		if r.deliveries > 1 {
			dup = append(dup, id)
			if !r.elsewhere {
				rep.Redelivered++
			}
		}
	}
	reordered := l.reordered()

	rep.Lost, rep.Duplicated, rep.Misplaced = int64(len(lost)), int64(len(dup)), int64(len(misplaced))
	rep.Unacked, rep.Reordered = int64(len(unacked)), int64(len(reordered))

	rep.Examples = append(rep.Examples, l.examples("lost", lost)...)
	rep.Examples = append(rep.Examples, l.examples("duplicated", dup)...)
	rep.Examples = append(rep.Examples, l.examples("reordered", reordered)...)
	rep.Examples = append(rep.Examples, l.examples("misplaced", misplaced)...)
	conflicts := make([]pos, 0, len(l.conflicts))
	for p := range l.conflicts {
		conflicts = append(conflicts, p)
	}
	slices.SortFunc(conflicts, comparePos)
	for _, p := range conflicts[:min(len(conflicts), maxExamples)] {
		rep.Examples = append(rep.Examples, fmt.Sprintf("conflict: %v holds more than one record", p))
	}
	return rep
}

// readWhereAcked reports whether the acknowledged record id was consumed at
// the position of its acknowledgement.
func (l *Ledger) readWhereAcked(id uint64, r *record) bool {
	if r.firstAt == r.ackedAt {
		return true
	}
	if !r.elsewhere {
		return false // every read was at firstAt
	}
	for _, d := range l.consumed[r.ackedAt.partition] {
		if d.offset == r.ackedAt.offset && d.id == id {
			return true
		}
	}
	return false
}

// reordered returns the records first consumed after a record acknowledged at
// a later offset of the same partition. Only acknowledged records placed in
// the partition being read take part: a record's acknowledged offset is the
// order the broker promised.
func (l *Ledger) reordered() []uint64 {
	var out []uint64
	seen := make(map[uint64]bool)
	for partition, ds := range l.consumed {
		highest := int64(-1)
		for _, d := range ds {
			r := l.records[d.id]
			if seen[d.id] || r.firstAt != (pos{partition, d.offset}) {
				continue // not its first read: a duplicate, counted as such
			}
			seen[d.id] = true
			if !r.acked || r.ackedAt.partition != partition {
				continue
			}
			if r.ackedAt.offset < highest {
				out = append(out, d.id)
			} else {
				highest = r.ackedAt.offset
			}
		}
	}
	return out
}

// examples describes up to maxExamples of ids, lowest first so that reports
// are stable.
func (l *Ledger) examples(kind string, ids []uint64) []string {
	slices.Sort(ids)
	var out []string
	for _, id := range ids[:min(len(ids), maxExamples)] {
		r := l.records[id]
		s := fmt.Sprintf("%s: record %d", kind, id)
		if r.acked {
			s += fmt.Sprintf(" acked at %v", r.ackedAt)
		}
		if r.deliveries > 0 {
			s += fmt.Sprintf(", consumed %d time(s), first at %v", r.deliveries, r.firstAt)
		}
		out = append(out, s)
	}
	return out
}

func comparePos(a, b pos) int {
	if c := cmp.Compare(a.partition, b.partition); c != 0 {
		return c
	}
	return cmp.Compare(a.offset, b.offset)
}
