// Package testports reserves TCP ports on 127.0.0.1 for tests that start
// nodes (and Prometheus, Alertmanager, ...) on ports they must know before
// the program binds them, and that a node keeps across restarts.
//
// Binding port 0, closing the listener and handing the port on is a race: the
// port can be taken before the node binds it by another test process (go test
// runs packages in parallel) or by any outgoing connection, which the kernel
// gives a local port from its ephemeral range. Reserve closes both holes:
//
//   - ports come from below the ephemeral range (net.ipv4.ip_local_port_range;
//     20000-32767 with Linux's default 32768-60999), so no outgoing
//     connection is ever given one;
//   - each port is locked with flock(2) on a file under
//     os.TempDir()/raftline-ports/ until the test's cleanup, and every test
//     process reserving through this package skips locked ports (the kernel
//     drops the lock of a process that dies);
//   - each port is bound once before it is handed out, so a port that some
//     other program listens on is skipped.
//
// The lock files stay, one per port ever reserved: were one removed while
// another process had it open, two processes could hold locks on different
// files for the same port.
//
// What remains is a program outside the tests binding a port in the range
// between the check and the node's bind.
package testports

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// floor is the lowest port handed out: below it are well-known services and
// the ports `raftline dev` and the compose stack use by default.
const floor = 20000

// minSpan is the fewest ports a usable range holds.
const minSpan = 1000

// rangeFile is where Linux keeps the ephemeral port range.
const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// Reserve returns n consecutive ports on 127.0.0.1, each free a moment ago,
// outside the kernel's ephemeral range and locked against every other test
// process until t's cleanup. It fails the test when none can be found.
//
// Call it before registering the cleanup that stops what listens on the
// ports: cleanups run last-in first-out, so the ports are then released
// only once nothing holds them.
func Reserve(t testing.TB, n int) []int {
	t.Helper()
	r, err := take(n)
	if err != nil {
		t.Fatalf("reserving %d ports: %v", n, err)
	}
	t.Cleanup(r.release)
	return r.ports
}

// Range returns the ports Reserve draws from, low to high inclusive.
func Range() (low, high int, err error) {
	ephLow, ephHigh := 32768, 65535 // when the kernel does not say: Linux's start, the whole top
	if b, err := os.ReadFile(rangeFile); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			l, err1 := strconv.Atoi(f[0])
			h, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && 0 < l && l <= h && h <= 65535 {
				ephLow, ephHigh = l, h
			}
		}
	}
	return rangeOutside(ephLow, ephHigh)
}

// rangeOutside picks the ports below the ephemeral range [ephLow, ephHigh],
// else those above it.
func rangeOutside(ephLow, ephHigh int) (low, high int, err error) {
	if ephLow-floor >= minSpan {
		return floor, ephLow - 1, nil
	}
	if 65535-ephHigh >= minSpan {
		return ephHigh + 1, 65535, nil
	}
	return 0, 0, fmt.Errorf("the ephemeral port range %d-%d leaves no %d ports between %d and 65535 outside it", ephLow, ephHigh, minSpan, floor)
}

// reservation is a set of locked ports.
type reservation struct {
	ports []int
	locks []*os.File
}

// held are the ports this process has reserved. flock alone would refuse
// them too (each open file has its own lock), except where the lock is a
// no-op.
var held = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

func take(n int) (*reservation, error) {
	if n < 1 {
		return nil, fmt.Errorf("%d ports asked for", n)
	}
	low, high, err := Range()
	if err != nil {
		return nil, err
	}
	if high-low+1 < n {
		return nil, fmt.Errorf("%d ports asked for, the range %d-%d has %d", n, low, high, high-low+1)
	}
	dir, err := lockDir()
	if err != nil {
		return nil, err
	}
	var last error
	for range 2000 {
		base := low + rand.IntN(high-low+2-n)
		r := &reservation{}
		for p := base; p < base+n; p++ {
			if last = r.add(dir, p); last != nil {
				break
			}
		}
		if len(r.ports) == n {
			return r, nil
		}
		r.release()
	}
	return nil, fmt.Errorf("no %d consecutive free ports in %d-%d; the last one tried: %w", n, low, high, last)
}

// add locks port p, checks that it binds, and adds it.
func (r *reservation) add(dir string, p int) error {
	held.Lock()
	if held.ports[p] {
		held.Unlock()
		return fmt.Errorf("port %d: reserved by this process", p)
	}
	held.ports[p] = true
	held.Unlock()
	f, err := lockPort(dir, p)
	if err != nil {
		unhold(p)
		return fmt.Errorf("port %d: %w", p, err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		f.Close()
		unhold(p)
		return err
	}
	ln.Close()
	r.ports = append(r.ports, p)
	r.locks = append(r.locks, f)
	return nil
}

func (r *reservation) release() {
	for i, p := range r.ports {
		r.locks[i].Close() // closing the only descriptor drops the flock
		unhold(p)
	}
	r.ports, r.locks = nil, nil
}

func unhold(p int) {
	held.Lock()
	delete(held.ports, p)
	held.Unlock()
}

// lockDir is os.TempDir()/raftline-ports, writable by every user so that
// tests run as root (the chaos suite) and as anyone else share it.
func lockDir() (string, error) {
	dir := filepath.Join(os.TempDir(), "raftline-ports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm() != 0o777 {
		os.Chmod(dir, 0o777|os.ModeSticky) // only its owner can; others use it as it is
	}
	return dir, nil
}

// errLocked is lockPort's error for a port another process holds.
var errLocked = errors.New("reserved by another test process")
