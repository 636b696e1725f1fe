package latency

import (
	"math/rand/v2"
	"testing"
	"time"
)

// within checks got against an exact want at the histogram's precision:
// three significant digits, so 0.1%.
func within(t *testing.T, name string, got, want int64) {
	t.Helper()
	if d := float64(got-want) / float64(want); d < -0.001 || d > 0.001 {
		t.Errorf("%s = %d, want %d within 0.1%%", name, got, want)
	}
}

// 1..10000µs once each: the p-th percentile is p% of 10000.
func TestSummary_UniformOneToTenThousand(t *testing.T) {
	r := NewRecorder()
	for _, i := range rand.Perm(10_000) { // order must not matter
		r.Record(time.Duration(i+1) * time.Microsecond)
	}
	s := r.Summary()
	if s.Count != 10_000 || s.MinMicros != 1 || s.MaxMicros != 10_000 {
		t.Fatalf("count/min/max = %d/%d/%d", s.Count, s.MinMicros, s.MaxMicros)
	}
	within(t, "p50", s.P50Micros, 5_000)
	within(t, "p90", s.P90Micros, 9_000)
	within(t, "p99", s.P99Micros, 9_900)
	within(t, "p99.9", s.P999Micros, 9_990)
	if s.MeanMicros < 4_995 || s.MeanMicros > 5_006 {
		t.Errorf("mean = %.1f, want 5000.5", s.MeanMicros)
	}
}

// With 990 fast values and 10 slow ones, the slow ones are exactly the top
// 1%: p99 is the last fast value and p99.9 a slow one.
func TestSummary_TailBoundary(t *testing.T) {
	r := NewRecorder()
	for range 990 {
		r.Record(time.Millisecond)
	}
	for range 10 {
		r.Record(2 * time.Second)
	}
	s := r.Summary()
	within(t, "p50", s.P50Micros, 1_000)
	within(t, "p99", s.P99Micros, 1_000)
	within(t, "p99.9", s.P999Micros, 2_000_000)
	if s.MaxMicros != 2_000_000 {
		t.Errorf("max = %d, want exactly 2000000", s.MaxMicros)
	}
}

func TestSummary_ExactExtremesAndClamping(t *testing.T) {
	r := NewRecorder()
	r.Record(123_456_789 * time.Nanosecond) // 123456µs, not a bucket boundary
	r.Record(-time.Second)                  // clock skew between hosts
	r.Record(2 * time.Hour)                 // past the histogram's range
	s := r.Summary()
	if s.MinMicros != 0 || s.MaxMicros != highest || s.Count != 3 {
		t.Fatalf("got %+v", s)
	}
	within(t, "p50", s.P50Micros, 123_456)
}

func TestRecorder_IntervalResetsAndWarmupOnlyInInterval(t *testing.T) {
	r := NewRecorder()
	r.RecordWarmup(5 * time.Second)
	r.Record(time.Millisecond)
	iv := r.TakeInterval()
	if iv.Count != 2 || iv.MaxMicros != 5_000_000 {
		t.Fatalf("first interval %+v", iv)
	}
	if iv := r.TakeInterval(); iv.Count != 0 || iv.P99Micros != 0 {
		t.Fatalf("second interval not empty: %+v", iv)
	}
	if s := r.Summary(); s.Count != 1 || s.MaxMicros != 1_000 {
		t.Fatalf("total includes warmup: %+v", s)
	}
}

func TestSummary_Empty(t *testing.T) {
	if s := NewRecorder().Summary(); s != (Summary{}) {
		t.Fatalf("got %+v", s)
	}
}

func TestDistribution_LadderAndExtremes(t *testing.T) {
	r := NewRecorder()
	for i := 1; i <= 10000; i++ {
		r.Record(time.Duration(i) * time.Microsecond)
	}
	d := r.Distribution()
	// 1/(1-p) from 1 to 10^4 at ten steps a decade, and the maximum.
	if len(d) != 42 {
		t.Fatalf("%d points, want 42: %v", len(d), d)
	}
	if d[0] != (Point{0, 1}) || d[len(d)-1] != (Point{100, 10000}) {
		t.Errorf("ends %v %v, want {0 1} and {100 10000}", d[0], d[len(d)-1])
	}
	for i := 1; i < len(d); i++ {
		if d[i].Percentile <= d[i-1].Percentile || d[i].Micros < d[i-1].Micros {
			t.Fatalf("not increasing at %d: %v then %v", i, d[i-1], d[i])
		}
	}
	within(t, "p90", d[10].Micros, 9000)
	within(t, "p99", d[20].Micros, 9900)
	if NewRecorder().Distribution() != nil {
		t.Error("empty recorder has a distribution")
	}
}
