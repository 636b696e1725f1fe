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
	"errors"
	"sync/atomic"
	"time"
)

// ErrEnd is returned by Wait for a slot at or after the schedule's end.
var ErrEnd = errors.New("rate: schedule ended")

// Limiter hands out send slots at a fixed total rate. It is safe for any
// number of goroutines; each slot is handed out exactly once.
type Limiter struct {
	start, end time.Time
	perSlot    float64 // nanoseconds between intended times
	next       atomic.Int64
}

// NewLimiter returns a Limiter of perSecond slots per second whose first slot
// is due at start. perSecond must be positive. If end is not zero, the
// schedule holds only the slots due before it.
func NewLimiter(perSecond float64, start, end time.Time) *Limiter {
	return &Limiter{start: start, end: end, perSlot: float64(time.Second) / perSecond}
}

// Wait claims the next slot, sleeps until its intended time and returns that
// time. A slot that is already due returns at once, whatever the state of
// ctx: it belongs to the schedule and the caller decides whether to send it.
// Wait returns ErrEnd for a slot past the end, without sleeping, and ctx's
// error if ctx ends while it sleeps.
func (l *Limiter) Wait(ctx context.Context) (time.Time, error) {
	i := l.next.Add(1) - 1
	// Computed from the slot index, not accumulated, so rounding never drifts.
	intended := l.start.Add(time.Duration(float64(i) * l.perSlot))
	if !l.end.IsZero() && !intended.Before(l.end) {
		return intended, ErrEnd
	}
	if d := time.Until(intended); d > 0 {
		return intended, sleep(ctx, d)
	}
	return intended, nil
}

// sleep waits for d or until ctx ends. Short waits use time.Sleep, which is
// cheaper than a timer and select at tens of thousands of waits per second,
// and only delays cancellation by at most shortWait.
func sleep(ctx context.Context, d time.Duration) error {
	const shortWait = 5 * time.Millisecond
	if d <= shortWait {
		time.Sleep(d)
		return ctx.Err()
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
