package rate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLimiter_AchievedRateWithin2PercentOver5s drives a Limiter from several
// goroutines for five wall-clock seconds and counts the sends that actually
// happened inside the window. Because slots are scheduled against absolute
// times, scheduler jitter only delays individual sends; it cannot lower the
// rate unless the very end of the window is delayed by more than 2% of it.
func TestLimiter_AchievedRateWithin2PercentOver5s(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 5s")
	}
	for _, perSecond := range []float64{1_000, 20_000} {
		t.Run(fmt.Sprintf("%.0f/s", perSecond), func(t *testing.T) {
			t.Parallel()
			const window = 5 * time.Second
			const senders = 4
			start := time.Now()
			deadline := start.Add(window)
			l := NewLimiter(perSecond, start, time.Time{})
			ctx, cancel := context.WithTimeout(context.Background(), 2*window)
			defer cancel()

			var sent, early atomic.Int64
			var wg sync.WaitGroup
			for range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						intended, err := l.Wait(ctx)
						now := time.Now()
						if err != nil || !now.Before(deadline) {
							return
						}
						if now.Before(intended) {
							early.Add(1)
						}
						sent.Add(1)
					}
				}()
			}
			wg.Wait()

			want := perSecond * window.Seconds()
			got := float64(sent.Load())
			t.Logf("sent %.0f in %v, want %.0f (%.2f%%)", got, window, want, 100*(got-want)/want)
			if got < 0.98*want || got > 1.02*want {
				t.Errorf("achieved %.0f/s, want %.0f/s within 2%%", got/window.Seconds(), perSecond)
			}
			if n := early.Load(); n > 0 {
				t.Errorf("%d sends happened before their intended time", n)
			}
		})
	}
}

// TestLimiter_CatchesUpAfterStall checks that a sender blocked for a while is
// handed the slots it missed at once, each with its original intended time,
// instead of the schedule shifting back by the length of the stall.
func TestLimiter_CatchesUpAfterStall(t *testing.T) {
	start := time.Now()
	l := NewLimiter(1000, start, time.Time{})
	time.Sleep(100 * time.Millisecond) // the sender is stalled

	for i := range 50 {
		intended, err := l.Wait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := start.Add(time.Duration(i) * time.Millisecond); !intended.Equal(want) {
			t.Fatalf("slot %d intended at %v, want %v", i, intended.Sub(start), want.Sub(start))
		}
	}
	// All 50 slots were overdue, so handing them out must not have slept.
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("overdue slots took %v, expected no waiting", waited)
	}
}

func TestLimiter_WaitStopsOnCancel(t *testing.T) {
	l := NewLimiter(0.1, time.Now(), time.Time{}) // second slot is due in 10s
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := l.Wait(ctx); err != nil {
		t.Fatalf("first slot: %v", err)
	}
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if _, err := l.Wait(ctx); err == nil {
		t.Fatal("Wait returned without error after cancel")
	}
}

// A schedule with an end hands out exactly the slots due before it, even to
// a sender that is behind, and never sleeps past it.
func TestLimiter_EndsAfterLastSlotEvenWhenBehind(t *testing.T) {
	start := time.Now().Add(-time.Second) // the sender is a second behind
	l := NewLimiter(100, start, start.Add(500*time.Millisecond))
	n := 0
	for {
		_, err := l.Wait(context.Background())
		if errors.Is(err, ErrEnd) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 50 {
		t.Fatalf("%d slots before the end, want 50", n)
	}
}
