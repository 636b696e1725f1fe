// Package rate paces sends for an open-loop load test.
//
// A Limiter does not sleep "one interval" between sends, which would let every
// late wake-up push all later sends back and quietly lower the rate. Slot i
// has the absolute intended time start + i/rate, fixed before the test begins;
// a sender that wakes late (or is blocked by the client) finds its slot
// already due and sends at once, catching up to the schedule. The intended
// time is returned so latency can be measured from it rather than from the
// actual send, which is the coordinated-omission correction of wrk2: a stall
// delays every record that should have been sent during it, and each of those
// records reports the delay.
package rate

import (
	"context"
	"sync/atomic"
	"time"
)

// Limiter hands out send slots at a fixed total rate. It is safe for any
// number of goroutines; each slot is handed out exactly once.
type Limiter struct {
	start   time.Time
	perSlot float64 // nanoseconds between intended times
	next    atomic.Int64
}

// NewLimiter returns a Limiter of perSecond slots per second whose first slot
// is due at start. perSecond must be positive.
func NewLimiter(perSecond float64, start time.Time) *Limiter {
	return &Limiter{start: start, perSlot: float64(time.Second) / perSecond}
}

// Wait claims the next slot, sleeps until its intended time and returns that
// time. It returns early with ctx's error if ctx ends first; the slot is then
// lost, which is fine because nothing is sent after cancellation.
func (l *Limiter) Wait(ctx context.Context) (time.Time, error) {
	i := l.next.Add(1) - 1
	// Computed from the slot index, not accumulated, so rounding never drifts.
	intended := l.start.Add(time.Duration(float64(i) * l.perSlot))
	if d := time.Until(intended); d > 0 {
		if err := sleep(ctx, d); err != nil {
			return intended, err
		}
	}
	return intended, ctx.Err()
}

// sleep waits for d or until ctx ends. Short waits use time.Sleep, which is
// cheaper than a timer and select at tens of thousands of waits per second,
// and only delays cancellation by at most shortWait.
func sleep(ctx context.Context, d time.Duration) error {
	const shortWait = 5 * time.Millisecond
	if d <= shortWait {
		time.Sleep(d)
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
