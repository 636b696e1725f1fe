package freespace

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftline/raftline/broker/cluster"
)

// logBuffer collects a Monitor's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

func (l *logBuffer) count(s string) int {
	n := 0
	for _, line := range l.lines() {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

func start(t *testing.T, cfg Config) (*Monitor, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(lb, nil))
	m, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(m.Close)
	return m, lb
}

// df reports the size and available bytes of the filesystem holding dir, as
// coreutils' df reads them.
func df(t *testing.T, dir string) (size, avail int64) {
	t.Helper()
	out, err := exec.Command("df", "-B1", "--output=size,avail", dir).Output()
	if err != nil {
		t.Fatalf("df: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 4 {
		t.Fatalf("df printed %q", out)
	}
	size, err1 := strconv.ParseInt(f[2], 10, 64)
	avail, err2 := strconv.ParseInt(f[3], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("df printed %q: %v", out, err)
	}
	return size, avail
}

// Usage agrees with df: the same size, and free space within what other
// work on the machine writes between the two reads.
func TestUsage_AgreesWithDf(t *testing.T) {
	dir := t.TempDir()
	m, _ := start(t, Config{Dir: dir})
	u := m.Usage()
	size, avail := df(t, dir)
	if u.Err != nil || u.Capacity != size {
		t.Fatalf("Usage() = %+v; df: size %d", u, size)
	}
	if d := u.Free - avail; d > 256<<20 || d < -256<<20 {
		t.Fatalf("Usage().Free = %d, df says %d available", u.Free, avail)
	}
	if u.Below || u.MinFree != 0 || m.Check() != nil {
		t.Fatalf("no floor set: %+v, Check %v", u, m.Check())
	}
}

func TestStart_BadConfig_ClearError(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Dir: filepath.Join(t.TempDir(), "does-not-exist")},
		{Dir: t.TempDir(), MinFreeBytes: -1},
	} {
		if m, err := Start(cfg); err == nil {
			m.Close()
			t.Errorf("Start(%+v) succeeded", cfg)
		}
	}
}

// A floor above the filesystem's size is never met: produces are refused
// with cluster.ErrNoSpace, counted, and logged once; lowering the floor
// takes them again at once, logged once.
func TestCheck_BelowFloor_RefusesUntilTheFloorIsLowered(t *testing.T) {
	dir := t.TempDir()
	size, _ := df(t, dir)
	m, logs := start(t, Config{Dir: dir, MinFreeBytes: size + 1, Interval: 10 * time.Millisecond})
	for range 3 {
		err := m.Check()
		if !errors.Is(err, cluster.ErrNoSpace) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("Check() = %v, want cluster.ErrNoSpace naming %s", err, dir)
		}
	}
	if u := m.Usage(); !u.Below || u.MinFree != size+1 || m.Refused() != 3 {
		t.Fatalf("Usage() = %+v, Refused() = %d; want below the floor, 3 refusals", u, m.Refused())
	}
	time.Sleep(50 * time.Millisecond) // several reads: the state is logged once, not per read
	if n := logs.count("below the floor"); n != 1 {
		t.Fatalf("%d lines about going below the floor, want 1:\n%s", n, strings.Join(logs.lines(), "\n"))
	}

	m.SetMinFreeBytes(0)
	if err := m.Check(); err != nil {
		t.Fatalf("floor lowered to 0: Check() = %v", err)
	}
	m.SetMinFreeBytes(1 << 20)
	if err := m.Check(); err != nil {
		t.Fatalf("floor lowered to 1 MiB: Check() = %v", err)
	}
	if n := logs.count("back above the floor"); n != 1 || m.Refused() != 3 {
		t.Fatalf("%d lines about being back above the floor (want 1), %d refusals (want 3):\n%s",
			n, m.Refused(), strings.Join(logs.lines(), "\n"))
	}
}

func TestDirBytes_CountsFilesOnce_SkipsSharedOnes(t *testing.T) {
	dir := t.TempDir()
	if n := DirBytes(filepath.Join(dir, "missing")); n != 0 {
		t.Fatalf("missing directory: %d bytes", n)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "a"), filepath.Join(sub, "b")} {
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 64<<10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n := DirBytes(dir); n < 128<<10 || n > 160<<10 {
		t.Fatalf("two 64 KiB files: DirBytes = %d", n)
	}
	// b is linked from outside: its space is counted there.
	if err := os.Link(filepath.Join(sub, "b"), filepath.Join(t.TempDir(), "b")); err != nil {
		t.Fatal(err)
	}
	if n := DirBytes(dir); n < 64<<10 || n > 80<<10 {
		t.Fatalf("one file of two linked elsewhere too: DirBytes = %d", n)
	}
}

func TestIEC(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1.0KiB", 1536 << 20: "1.5GiB", 5 << 40: "5.0TiB"} {
		if got := IEC(n); got != want {
			t.Errorf("IEC(%d) = %q, want %q", n, got, want)
		}
	}
}

// Check runs for every partition of every produce the leader takes.
func BenchmarkCheck_AboveTheFloor(b *testing.B) {
	m, err := Start(Config{Dir: b.TempDir(), MinFreeBytes: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.ReportAllocs()
	for b.Loop() {
		if m.Check() != nil {
			b.Fatal("refused")
		}
	}
}
