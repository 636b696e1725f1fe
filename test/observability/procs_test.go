package observability

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/raftline/raftline/test/internal/systest"
)

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// pollInterval is how often waitFor re-checks a condition; many conditions
// here are Prometheus or Alertmanager queries.
const pollInterval = 250 * time.Millisecond

// waitFor polls cond until it returns nil and fails the test with cond's
// last error once timeout has passed. Every wait in this package goes
// through it: on a loaded machine only an observed condition, never a fixed
// sleep, says that something has happened.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	systest.WaitEvery(t, timeout, pollInterval, what, cond)
}

// poll is waitFor without the test: it returns cond's last error, or nil
// once cond holds.
func poll(timeout time.Duration, cond func() error) error {
	return systest.Poll(timeout, pollInterval, cond)
}

// proc is one child process (a node, the load generator, Prometheus,
// Alertmanager) whose output goes to a log file that survives restarts.
type proc = systest.Proc

func newProc(dir, name, bin string, args ...string) *proc {
	return systest.NewProc(dir, name, bin, args...)
}

// procs kills every registered process when the test ends and, if the test
// failed, logs the end of each one's output.
type procs struct {
	t    testing.TB
	list []*proc
}

func newProcs(t testing.TB) *procs {
	ps := &procs{t: t}
	t.Cleanup(ps.cleanup)
	return ps
}

func (ps *procs) add(p *proc) *proc { ps.list = append(ps.list, p); return p }

func (ps *procs) cleanup() {
	for _, p := range ps.list {
		if err := p.Kill(); err != nil {
			ps.t.Log(err)
		}
	}
	if ps.t.Failed() {
		for _, p := range ps.list {
			ps.t.Logf("--- %s (%s) log tail ---\n%s", p.Name, p.LogPath, systest.Tail(p.LogPath, 60, p.Noise))
		}
	}
}
