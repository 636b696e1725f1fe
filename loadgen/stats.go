package loadgen

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftline/raftline/loadgen/latency"
)

// errorCounts counts errors by kind.
type errorCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

func (e *errorCounts) add(kind string) { e.addN(kind, 1) }

func (e *errorCounts) addN(kind string, n int64) {
	e.mu.Lock()
	if e.n == nil {
		e.n = make(map[string]int64)
	}
	e.n[kind] += n
	e.mu.Unlock()
}

func (e *errorCounts) snapshot() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := maps.Clone(e.n)
	if out == nil {
		out = map[string]int64{}
	}
	return out
}

// flow counts one direction of traffic: acknowledged records for producing,
// read records for consuming. Throughput counts records by when they were
// acknowledged or read, so that it is the rate the broker sustained during
// the measured window, [from, end()).
type flow struct {
	all, allBytes  atomic.Int64 // everything, for the progress line
	records, bytes atomic.Int64 // in the measured window
	warmup, after  atomic.Int64 // before and after it
	last           atomic.Int64 // UnixNano of the last record in the window
	foreign        atomic.Int64
	errs           errorCounts
	lat            *latency.Recorder

	from time.Time
	end  func() time.Time // zero while the window is open
}

func newFlow(from time.Time, end func() time.Time) *flow {
	return &flow{lat: latency.NewRecorder(), from: from, end: end}
}

// add counts one record of n bytes acknowledged or read at now.
func (f *flow) add(n int, now time.Time) {
	f.all.Add(1)
	f.allBytes.Add(int64(n))
	if now.Before(f.from) {
		f.warmup.Add(1)
		return
	}
	if end := f.end(); !end.IsZero() && !now.Before(end) {
		f.after.Add(1)
		return
	}
	f.records.Add(1)
	f.bytes.Add(int64(n))
	// Records arrive from several goroutines; keep the latest time.
	t := now.UnixNano()
	for {
		old := f.last.Load()
		if t <= old || f.last.CompareAndSwap(old, t) {
			return
		}
	}
}

// throughput summarises the flow. The window is taken to close at the last
// record in it: a consumer that drained its topic early is not charged for
// the idle time after.
func (f *flow) throughput() *Throughput {
	t := &Throughput{
		Records:       f.records.Load(),
		Bytes:         f.bytes.Load(),
		WarmupRecords: f.warmup.Load(),
		AfterRecords:  f.after.Load(),
		Foreign:       f.foreign.Load(),
		Errors:        f.errs.snapshot(),
	}
	if last := f.last.Load(); last > 0 {
		t.Seconds = time.Unix(0, last).Sub(f.from).Seconds()
	}
	if t.Seconds > 0 {
		t.RecordsPerSec = float64(t.Records) / t.Seconds
		t.MiBPerSec = float64(t.Bytes) / t.Seconds / (1 << 20)
	}
	return t
}

// sampler turns running totals into per-interval samples.
type sampler struct {
	start               time.Time
	last                time.Time
	sent, acked, ackedB int64
	consumed, consumedB int64
	prodErrs, consErrs  map[string]int64
}

// take returns the sample for the interval ending at now.
func (s *sampler) take(now time.Time, warmup bool, sent int64, prod, cons *flow) Sample {
	smp := Sample{
		At:      now.Sub(s.start).Seconds(),
		Seconds: now.Sub(s.last).Seconds(),
		Warmup:  warmup,
	}
	s.last = now
	smp.Sent, s.sent = sent-s.sent, sent

	if prod != nil {
		acked, bytes := prod.all.Load(), prod.allBytes.Load()
		smp.Acked, s.acked = acked-s.acked, acked
		smp.AckedBytes, s.ackedB = bytes-s.ackedB, bytes
		smp.Publish = prod.lat.TakeInterval()
		errs := prod.errs.snapshot()
		smp.Errors = diff(smp.Errors, errs, s.prodErrs)
		s.prodErrs = errs
	}
	if cons != nil {
		n, bytes := cons.all.Load(), cons.allBytes.Load()
		smp.Consumed, s.consumed = n-s.consumed, n
		smp.ConsumedBytes, s.consumedB = bytes-s.consumedB, bytes
		smp.EndToEnd = cons.lat.TakeInterval()
		errs := cons.errs.snapshot()
		smp.Errors = diff(smp.Errors, errs, s.consErrs)
		s.consErrs = errs
	}
	return smp
}

// diff adds now-before for every kind that grew to into, allocating it if
// needed.
func diff(into, now, before map[string]int64) map[string]int64 {
	for k, n := range now {
		if d := n - before[k]; d > 0 {
			if into == nil {
				into = make(map[string]int64)
			}
			into[k] += d
		}
	}
	return into
}
