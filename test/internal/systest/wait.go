package systest

import (
	"testing"
	"time"
)

// DefaultInterval is how often WaitFor re-checks its condition.
const DefaultInterval = 50 * time.Millisecond

// WaitFor polls cond every DefaultInterval until it returns nil, failing the
// test with cond's last error once timeout has passed. On a loaded machine
// only an observed condition, never a fixed sleep, says that something has
// happened.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	WaitEvery(t, timeout, DefaultInterval, what, cond)
}

// WaitEvery is WaitFor with its own polling interval: shorter where the wait
// itself is a measurement, longer where each check is a costly query.
func WaitEvery(t testing.TB, timeout, every time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Poll(timeout, every, cond); err != nil {
		t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
	}
}

// Poll is WaitEvery without the test: it returns nil once cond holds, or
// cond's last error once timeout has passed.
func Poll(timeout, every time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(every)
	}
}
