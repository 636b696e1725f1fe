package kafka

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// testBudget is a node budget of limit bytes whose frames count as silent
// after silence, with its in-flight gauge and burst signal observable.
func testBudget(limit int64, silence time.Duration) (*nodeBudget, *atomic.Int64, chan struct{}) {
	var gauge atomic.Int64
	released := make(chan struct{}, 1)
	b := newNodeBudget(limit, func(d int64) { gauge.Add(d) }, released, limit/2)
	b.silence = silence
	return b, &gauge, released
}

// acquireAsync runs h.acquire on its own goroutine and returns its result
// channel and a counter of the waits it reported.
func acquireAsync(h *frameHold, n int64, deadline time.Time, done <-chan struct{}) (<-chan error, *atomic.Int32) {
	var waits atomic.Int32
	errc := make(chan error, 1)
	go func() { errc <- h.acquire(n, deadline, done, func() { waits.Add(1) }) }()
	return errc, &waits
}

func mustAcquire(t *testing.T, h *frameHold, n int64) {
	t.Helper()
	if err := h.acquire(n, time.Time{}, nil, func() { t.Fatalf("acquiring %d bytes waited", n) }); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond, failing with what after 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func notYet(t *testing.T, errc <-chan error, what string) {
	t.Helper()
	select {
	case err := <-errc:
		t.Fatalf("%s returned %v", what, err)
	default:
	}
}

func TestNodeBudget_WithinLimit_NoWaitGaugeFollows(t *testing.T) {
	b, gauge, _ := testBudget(100, time.Hour)
	h1, h2 := b.hold(func() {}), b.hold(func() {})
	mustAcquire(t, h1, 60)
	mustAcquire(t, h2, 40)
	if gauge.Load() != 100 {
		t.Fatalf("gauge %d, want 100", gauge.Load())
	}
	n := h1.done()
	if n != 60 || gauge.Load() != 100 {
		t.Fatalf("done returned %d, gauge %d: a finished frame holds its bytes until released", n, gauge.Load())
	}
	b.release(n)
	h2.abort()
	if gauge.Load() != 0 || b.used != 0 {
		t.Fatalf("after release and abort: gauge %d, used %d", gauge.Load(), b.used)
	}
}

func TestNodeBudget_AtLimit_WaitsUntilReleased(t *testing.T) {
	b, _, _ := testBudget(100, time.Hour)
	busy := b.hold(func() { t.Error("a frame closed while silence is an hour") })
	mustAcquire(t, busy, 90)
	errc, waits := acquireAsync(b.hold(func() {}), 20, time.Time{}, nil)
	waitUntil(t, "the second frame to wait", func() bool { return waits.Load() == 1 })
	notYet(t, errc, "acquire over the limit")
	busy.abort()
	if err := <-errc; err != nil {
		t.Fatalf("after the release: %v", err)
	}
	if waits.Load() != 1 {
		t.Fatalf("%d waits reported, want 1", waits.Load())
	}
}

func TestNodeBudget_SilentFrame_ClosedToMakeRoom(t *testing.T) {
	b, _, _ := testBudget(100, 50*time.Millisecond)
	var silent *frameHold
	var closed atomic.Bool
	silent = b.hold(func() {
		closed.Store(true)
		go silent.abort() // as its reader does when its read fails
	})
	mustAcquire(t, silent, 90)
	start := time.Now()
	errc, _ := acquireAsync(b.hold(func() {}), 20, time.Now().Add(10*time.Second), nil)
	if err := <-errc; err != nil {
		t.Fatalf("waiting frame: %v", err)
	}
	if !closed.Load() || !silent.wasEvicted() {
		t.Fatal("the silent frame was not closed")
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Fatalf("closed after %v, before it was silent for 50ms", waited)
	}
}

func TestNodeBudget_FrameStillArriving_NotClosedWaiterTimesOut(t *testing.T) {
	b, _, _ := testBudget(100, 100*time.Millisecond)
	arriving := b.hold(func() { t.Error("closed a frame whose bytes keep arriving") })
	mustAcquire(t, arriving, 90)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				arriving.progress()
			}
		}
	}()
	errc, _ := acquireAsync(b.hold(func() {}), 20, time.Now().Add(400*time.Millisecond), nil)
	if err := <-errc; !errors.Is(err, errBudget) {
		t.Fatalf("got %v, want errBudget at the deadline", err)
	}
	if arriving.wasEvicted() {
		t.Fatal("the arriving frame was marked closed")
	}
}

func TestNodeBudget_WaitingFramesNotClosed_DeadlineEndsTheStandoff(t *testing.T) {
	// Two frames each hold half and wait for more: neither is silent by its
	// own doing, so neither is closed; their deadlines end it.
	b, _, _ := testBudget(100, 20*time.Millisecond)
	h1 := b.hold(func() { t.Error("closed a waiting frame") })
	h2 := b.hold(func() { t.Error("closed a waiting frame") })
	mustAcquire(t, h1, 50)
	mustAcquire(t, h2, 50)
	deadline := time.Now().Add(300 * time.Millisecond)
	e1, _ := acquireAsync(h1, 10, deadline, nil)
	e2, _ := acquireAsync(h2, 10, deadline, nil)
	for _, errc := range []<-chan error{e1, e2} {
		if err := <-errc; !errors.Is(err, errBudget) {
			t.Fatalf("got %v, want errBudget", err)
		}
	}
}

func TestNodeBudget_MostSilentClosedFirst_OnlyAsManyAsNeeded(t *testing.T) {
	b, _, _ := testBudget(100, 20*time.Millisecond)
	var older, newer *frameHold
	var olderClosed, newerClosed atomic.Bool
	older = b.hold(func() { olderClosed.Store(true); go older.abort() })
	newer = b.hold(func() { newerClosed.Store(true); go newer.abort() })
	mustAcquire(t, older, 40)
	mustAcquire(t, newer, 40)
	older.last.Add(-int64(time.Second)) // silent a second longer
	errc, _ := acquireAsync(b.hold(func() {}), 30, time.Now().Add(10*time.Second), nil)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !olderClosed.Load() || newerClosed.Load() {
		t.Fatalf("closed: older %v, newer %v; want only the older, which frees enough", olderClosed.Load(), newerClosed.Load())
	}
}

func TestNodeBudget_ConnectionGone_WaitEnds(t *testing.T) {
	b, _, _ := testBudget(100, time.Hour)
	mustAcquire(t, b.hold(func() {}), 100)
	done := make(chan struct{})
	errc, _ := acquireAsync(b.hold(func() {}), 1, time.Time{}, done)
	close(done)
	if err := <-errc; !errors.Is(err, errBudget) {
		t.Fatalf("got %v, want errBudget", err)
	}
}

func TestNodeBudget_BurstReleased_SignalledOnce(t *testing.T) {
	b, _, released := testBudget(100, time.Hour) // signals after 50 bytes held and half released
	small := b.hold(func() {})
	mustAcquire(t, small, 10)
	small.abort()
	select {
	case <-released:
		t.Fatal("signalled after a 10-byte peak")
	default:
	}
	h1, h2 := b.hold(func() {}), b.hold(func() {})
	mustAcquire(t, h1, 40)
	mustAcquire(t, h2, 40)
	h1.abort() // 40 of 80 held: half released
	select {
	case <-released:
	default:
		t.Fatal("no signal after half of an 80-byte burst was released")
	}
	h2.abort()
	select {
	case <-released:
		t.Fatal("signalled twice for one burst")
	default:
	}
}

func TestConnBudget_LoneFrameAlwaysAdmitted_PipelinedWaitsForOwnRequests(t *testing.T) {
	c := newConnBudget(100)
	if waited, ok := c.admit(1000, nil); waited || !ok {
		t.Fatalf("a lone frame above the limit: waited %v, ok %v", waited, ok)
	}
	c.add(60)
	if waited, ok := c.admit(40, nil); waited || !ok {
		t.Fatalf("a frame within the limit: waited %v, ok %v", waited, ok)
	}
	type result struct{ waited, ok bool }
	res := make(chan result, 1)
	go func() {
		waited, ok := c.admit(50, nil)
		res <- result{waited, ok}
	}()
	select {
	case r := <-res:
		t.Fatalf("admitted 50 with 60 of 100 held: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	c.release(60)
	if r := <-res; !r.waited || !r.ok {
		t.Fatalf("after the release: %+v", r)
	}
	c.add(100)
	done := make(chan struct{})
	close(done)
	if _, ok := c.admit(1, done); ok {
		t.Fatal("admitted while full with the connection gone")
	}
}
