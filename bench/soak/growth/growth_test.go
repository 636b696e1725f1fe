package growth

import (
	"math"
	"math/rand/v2"
	"testing"
)

// series samples f every 5 s for an hour.
func series(f func(t float64) float64) (x, y []float64) {
	for t := 0.0; t <= 3600; t += 5 {
		x = append(x, t)
		y = append(y, f(t))
	}
	return x, y
}

var memTol = Tolerance{Relative: 0.2}

func TestCheck_LeakFails(t *testing.T) {
	// 100 MiB after warm-up plus 50 KiB/s: about 160 MiB more by the end.
	x, y := series(func(t float64) float64 { return 100<<20 + 50<<10*t })
	v := Check("rss", x, y, memTol)
	if !v.Growing || v.Insufficient {
		t.Fatalf("a steady leak passed: %v", v)
	}
}

func TestCheck_PlateauPasses(t *testing.T) {
	// Rises to 200 MiB over the first ten minutes, then wobbles by 10%
	// as the garbage collector runs.
	rng := rand.New(rand.NewPCG(1, 2))
	x, y := series(func(t float64) float64 {
		level := 200.0 * (1 - math.Exp(-t/200))
		return (level + 20*rng.Float64()) * (1 << 20)
	})
	v := Check("rss", x, y, memTol)
	if v.Growing || v.Insufficient {
		t.Fatalf("a plateau failed: %v", v)
	}
}

func TestCheck_RestartDipPasses(t *testing.T) {
	// A node restarted in the last third starts low and climbs back to its
	// earlier level; samples while it was down are NaN.
	x, y := series(func(t float64) float64 {
		switch {
		case t >= 2600 && t < 2620:
			return math.NaN()
		case t >= 2620:
			return math.Min(150, 20+(t-2620)) * (1 << 20)
		}
		return 150 << 20
	})
	if v := Check("rss", x, y, memTol); v.Growing || v.Insufficient {
		t.Fatalf("a restart's dip and recovery failed: %v", v)
	}
}

func TestCheck_AbsoluteSlackForSmallCounts(t *testing.T) {
	// Open files: 40, then 45 for a while in the last third, as
	// connections come and go. 12% more, within 10% plus 8.
	x, y := series(func(t float64) float64 {
		if t > 3000 && t < 3200 {
			return 45
		}
		return 40
	})
	tol := Tolerance{Relative: 0.1, Absolute: 8}
	if v := Check("fds", x, y, tol); v.Growing {
		t.Fatalf("small wobble in a count failed: %v", v)
	}
	// One file more per minute is a leak.
	x, y = series(func(t float64) float64 { return 40 + t/60 })
	if v := Check("fds", x, y, tol); !v.Growing {
		t.Fatalf("a file descriptor leak passed: %v", v)
	}
}

func TestCheck_TooFewSamples(t *testing.T) {
	if v := Check("rss", nil, nil, memTol); !v.Insufficient || v.Growing {
		t.Fatalf("no samples: %v", v)
	}
	nan := math.NaN()
	v := Check("rss", []float64{0, 10, 20, 30}, []float64{1, nan, nan, 5}, memTol)
	if !v.Insufficient || v.Growing {
		t.Fatalf("no sample in the middle third: %v", v)
	}
}
