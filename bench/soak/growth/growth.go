// Package growth decides whether a sampled resource series levels off or
// keeps growing, the check behind `make soak`.
//
// The rule, concretely: the samples are split by time into three equal
// thirds. The first third is warm-up (caches fill, the heap finds its size,
// the disk fills to its retention) and is ignored. The series levels off
// when the maximum of the last third is at most the maximum of the middle
// third plus a tolerance:
//
//	max(last third) <= max(middle third) * (1 + Relative) + Absolute
//
// Maxima rather than means, because a node restarted during the run drops to
// a fresh process's figures and climbs back: a steady node returns to the
// peak it had before, a leaking one passes it. A leak of r per second over a
// run of length T shows as a rise of about r*T/3 between the thirds, so the
// longer the run, the smaller the leak it catches; a run too short for the
// leak to outgrow the tolerance passes.
package growth

import (
	"fmt"
	"math"
)

// Tolerance is how far the last third's peak may exceed the middle third's.
type Tolerance struct {
	// Relative is a fraction of the middle third's peak (0.2: 20%).
	Relative float64
	// Absolute is added on top, in the series' unit, for series whose
	// values are small counts (open files, goroutines) where one more is
	// a large fraction.
	Absolute float64
}

// Allowed is the highest last-third peak that still levels off.
func (t Tolerance) Allowed(middlePeak float64) float64 {
	return middlePeak*(1+t.Relative) + t.Absolute
}

// Verdict is the outcome for one series.
type Verdict struct {
	Series string
	// MiddlePeak and LastPeak are the maxima of the middle and last thirds;
	// NaN when a third has no sample.
	MiddlePeak, LastPeak float64
	// Allowed is the tolerance's bound on LastPeak.
	Allowed float64
	// Growing is true when LastPeak exceeds Allowed.
	Growing bool
	// Insufficient is true when a third holds no sample, so nothing could
	// be decided; such a series does not fail.
	Insufficient bool
}

func (v Verdict) String() string {
	switch {
	case v.Insufficient:
		return fmt.Sprintf("%s: too few samples to decide", v.Series)
	case v.Growing:
		return fmt.Sprintf("%s: GROWING: last third peaks at %.4g, above %.4g allowed (middle third peaked at %.4g)",
			v.Series, v.LastPeak, v.Allowed, v.MiddlePeak)
	}
	return fmt.Sprintf("%s: levels off: last third peaks at %.4g, middle third at %.4g (allowed %.4g)",
		v.Series, v.LastPeak, v.MiddlePeak, v.Allowed)
}

// Check judges the series y sampled at times x (seconds, ascending). NaN
// values, samples taken while the process was down, are skipped.
func Check(series string, x, y []float64, tol Tolerance) Verdict {
	v := Verdict{Series: series, MiddlePeak: math.NaN(), LastPeak: math.NaN()}
	if len(x) == 0 {
		v.Insufficient = true
		return v
	}
	start, end := x[0], x[len(x)-1]
	third := (end - start) / 3
	for i := range x {
		if math.IsNaN(y[i]) {
			continue
		}
		switch {
		case x[i] >= start+2*third:
			v.LastPeak = peak(v.LastPeak, y[i])
		case x[i] >= start+third:
			v.MiddlePeak = peak(v.MiddlePeak, y[i])
		}
	}
	if math.IsNaN(v.MiddlePeak) || math.IsNaN(v.LastPeak) || third <= 0 {
		v.Insufficient = true
		return v
	}
	v.Allowed = tol.Allowed(v.MiddlePeak)
	v.Growing = v.LastPeak > v.Allowed
	return v
}

func peak(p, v float64) float64 {
	if math.IsNaN(p) || v > p {
		return v
	}
	return p
}
