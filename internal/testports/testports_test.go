package testports

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestRangeOutside_BelowTheEphemeralRange(t *testing.T) {
	for _, c := range []struct {
		ephLow, ephHigh, low, high int
		fails                      bool
	}{
		{32768, 60999, 20000, 32767, false}, // Linux's default
		{49152, 65535, 20000, 49151, false}, // IANA's, as macOS uses
		{10000, 60999, 61000, 65535, false}, // no room below: above it
		{1024, 65535, 0, 0, true},
	} {
		low, high, err := rangeOutside(c.ephLow, c.ephHigh)
		if (err != nil) != c.fails || low != c.low || high != c.high {
			t.Errorf("rangeOutside(%d, %d) = %d, %d, %v; want %d, %d, failing %v", c.ephLow, c.ephHigh, low, high, err, c.low, c.high, c.fails)
		}
	}
}

func TestRange_ExcludesTheKernelsEphemeralPorts(t *testing.T) {
	low, high, err := Range()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(rangeFile)
	if err != nil {
		t.Skipf("no %s here: %v", rangeFile, err) // not Linux: nothing to compare with
	}
	f := strings.Fields(string(b))
	ephLow, _ := strconv.Atoi(f[0])
	ephHigh, _ := strconv.Atoi(f[1])
	if high >= ephLow && low <= ephHigh {
		t.Fatalf("range %d-%d overlaps the ephemeral range %d-%d", low, high, ephLow, ephHigh)
	}
}

func TestReserve_ConsecutiveBindablePortsInRange(t *testing.T) {
	low, high, _ := Range()
	ports := Reserve(t, 9)
	if len(ports) != 9 {
		t.Fatalf("got %d ports", len(ports))
	}
	for i, p := range ports {
		if p < low || p > high {
			t.Errorf("port %d outside %d-%d", p, low, high)
		}
		if i > 0 && p != ports[i-1]+1 {
			t.Errorf("ports %v are not consecutive", ports)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("reserved port %d does not bind: %v", p, err)
			continue
		}
		ln.Close()
	}
}

// Reservations in one process never share a port, and a released port can
// be reserved again.
func TestReserve_NoPortTwiceUntilReleased(t *testing.T) {
	seen := map[int]bool{}
	var rs []*reservation
	for range 50 {
		r, err := take(4)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
		for _, p := range r.ports {
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
		}
	}
	first := rs[0].ports[0]
	for _, r := range rs {
		r.release()
	}
	dir, err := lockDir()
	if err != nil {
		t.Fatal(err)
	}
	r := &reservation{}
	if err := r.add(dir, first); err != nil {
		t.Fatalf("released port %d cannot be reserved again: %v", first, err)
	}
	r.release()
}

// A port locked through another open file, as another process would hold
// it, is refused, and so is a port something listens on.
func TestReserve_RefusesPortsLockedElsewhereOrInUse(t *testing.T) {
	dir, err := lockDir()
	if err != nil {
		t.Fatal(err)
	}
	free := func() int {
		r, err := take(1)
		if err != nil {
			t.Fatal(err)
		}
		p := r.ports[0]
		r.release()
		return p
	}
	locked := free()
	f, err := lockPort(dir, locked)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &reservation{}
	if err := r.add(dir, locked); !errors.Is(err, errLocked) {
		r.release()
		t.Errorf("port %d locked elsewhere: add = %v, want %v", locked, err, errLocked)
	}

	inUse := free()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(inUse)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := r.add(dir, inUse); err == nil {
		r.release()
		t.Errorf("port %d, listened on, was reserved", inUse)
	}
}

// The lock holds across processes: a child reserving while this process
// holds every port of a block is refused them.
func TestReserve_LockedAgainstOtherProcesses(t *testing.T) {
	if os.Getenv("TESTPORTS_CHILD") != "" {
		return
	}
	if runtime.GOOS == "windows" {
		t.Skip("no cross-process lock")
	}
	p := Reserve(t, 1)[0]
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLockPort$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTPORTS_CHILD=1", "TESTPORTS_PORT="+strconv.Itoa(p))
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "LOCKED") {
		t.Fatalf("a child process could lock port %d this one reserved:\n%s", p, out)
	}
}

// TestHelperLockPort runs in the child of TestReserve_LockedAgainstOtherProcesses.
func TestHelperLockPort(t *testing.T) {
	if os.Getenv("TESTPORTS_CHILD") == "" {
		return
	}
	p, _ := strconv.Atoi(os.Getenv("TESTPORTS_PORT"))
	dir, err := lockDir()
	if err != nil {
		t.Fatal(err)
	}
	f, err := lockPort(dir, p)
	if errors.Is(err, errLocked) {
		t.Log("LOCKED")
		return
	}
	if err == nil {
		f.Close()
	}
	t.Fatalf("lockPort(%d) = %v, want %v", p, err, errLocked)
}
