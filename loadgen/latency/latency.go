// Package latency records latencies in HdrHistograms with microsecond
// resolution and summarises them as the percentiles a load test reports.
package latency

import (
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: 1µs to one hour at three significant digits, so any
// percentile is within 0.1% of the recorded value. Longer values are clamped
// to the maximum rather than dropped, so a pathological stall still shows.
const (
	lowest  = 1
	highest = int64(time.Hour / time.Microsecond)
	sigfigs = 3
)

// Summary is the distribution of one set of latencies. Durations are in
// microseconds so that JSON baselines stay readable and integer-exact.
type Summary struct {
	Count      int64   `json:"count"`
	MinMicros  int64   `json:"min_us"`
	MeanMicros float64 `json:"mean_us"`
	P50Micros  int64   `json:"p50_us"`
	P90Micros  int64   `json:"p90_us"`
	P99Micros  int64   `json:"p99_us"`
	P999Micros int64   `json:"p999_us"`
	MaxMicros  int64   `json:"max_us"`
}

// summarize computes a Summary from h. The extremes lo and hi are tracked
// exactly outside the histogram, which only knows them to within a bucket.
func summarize(h *hdrhistogram.Histogram, lo, hi int64) Summary {
	if h.TotalCount() == 0 {
		return Summary{}
	}
	q := h.ValueAtPercentilesSlice([]float64{50, 90, 99, 99.9})
	return Summary{
		Count:      h.TotalCount(),
		MinMicros:  lo,
		MeanMicros: h.Mean(),
		P50Micros:  clampTo(q[0], lo, hi),
		P90Micros:  clampTo(q[1], lo, hi),
		P99Micros:  clampTo(q[2], lo, hi),
		P999Micros: clampTo(q[3], lo, hi),
		MaxMicros:  hi,
	}
}

// clampTo keeps a percentile, which the histogram reports as the highest
// value equivalent to its bucket, within the exact extremes.
func clampTo(v, lo, hi int64) int64 {
	return min(max(v, lo), hi)
}

// hist is one histogram with its exact extremes.
type hist struct {
	h      *hdrhistogram.Histogram
	lo, hi int64
}

func newHist() hist { return hist{h: hdrhistogram.New(lowest, highest, sigfigs), lo: -1} }

func (x *hist) record(us int64) {
	// RecordValue only fails above highest, which micros already clamps.
	_ = x.h.RecordValue(us)
	if x.lo < 0 || us < x.lo {
		x.lo = us
	}
	x.hi = max(x.hi, us)
}

func (x *hist) summary() Summary { return summarize(x.h, x.lo, x.hi) }

func (x *hist) reset() {
	x.h.Reset()
	x.lo, x.hi = -1, 0
}

// Recorder is a concurrency-safe latency recorder. It keeps the measured
// total, which excludes warmup, and an interval histogram of everything since
// the last call to TakeInterval, which feeds the once-a-second progress line.
type Recorder struct {
	mu       sync.Mutex
	total    hist
	interval hist
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{total: newHist(), interval: newHist()}
}

// Record adds d to the total and to the current interval.
func (r *Recorder) Record(d time.Duration) {
	us := micros(d)
	r.mu.Lock()
	r.total.record(us)
	r.interval.record(us)
	r.mu.Unlock()
}

// RecordWarmup adds d to the current interval only, so warmup shows in the
// progress line but not in the result.
func (r *Recorder) RecordWarmup(d time.Duration) {
	us := micros(d)
	r.mu.Lock()
	r.interval.record(us)
	r.mu.Unlock()
}

// Summary returns the distribution of everything passed to Record.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total.summary()
}

// TakeInterval returns the distribution of the current interval and starts a
// new one.
func (r *Recorder) TakeInterval() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.interval.summary()
	r.interval.reset()
	return s
}

// micros converts d to whole microseconds within the histogram's range.
// Negative values (clock skew between producer and consumer hosts) become 0.
func micros(d time.Duration) int64 {
	return clampTo(d.Microseconds(), 0, highest)
}

// Point is one point of a latency distribution: Percentile percent of the
// values are at most Micros.
type Point struct {
	Percentile float64 `json:"p"`
	Micros     int64   `json:"us"`
}

// Distribution returns the percentile distribution of everything passed to
// Record, as HdrHistogram's percentile plots show it: ten points per decade
// of 1/(1-p) (0%, 20.6%, 36.9%, ... 90%, ... 99%, ...), as far as the count
// resolves (1/(1-p) at most Count), then the maximum at 100%. Empty when
// nothing was recorded.
func (r *Recorder) Distribution() []Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	x := &r.total
	n := x.h.TotalCount()
	if n == 0 {
		return nil
	}
	var ps []float64
	for k := 0; ; k++ {
		inv := math.Pow(10, float64(k)/10) // 1/(1-p)
		if inv > float64(n) {
			break
		}
		ps = append(ps, 100*(1-1/inv))
	}
	vs := x.h.ValueAtPercentilesSlice(ps)
	out := make([]Point, 0, len(ps)+1)
	for i, p := range ps {
		v := clampTo(vs[i], x.lo, x.hi)
		if i == 0 {
			v = x.lo // the 0th percentile is the exact minimum
		}
		out = append(out, Point{Percentile: p, Micros: v})
	}
	return append(out, Point{Percentile: 100, Micros: x.hi})
}
