package freespace

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/raftline/raftline/broker/cluster"
)

// waitCheck waits until Check's answer is what want says (nil: taking
// produces), reporting the last answer and the usage when it is not.
func waitCheck(t *testing.T, m *Monitor, refusing bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := m.Check()
		if refusing == errors.Is(err, cluster.ErrNoSpace) && (refusing || err == nil) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s Check() = %v (refusing wanted: %v); usage %+v", err, refusing, m.Usage())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Space really taken on the filesystem (a 4 GiB file, allocated at once)
// takes free space under a floor set 2 GiB below it; deleting the file,
// as retention deletes segments, brings it back above, and the monitor
// takes produces again without being told. The 2 GiB margins keep other
// work on the machine from deciding the outcome.
func TestCheck_SpaceTakenThenFreed_RefusesThenResumesByItself(t *testing.T) {
	dir := t.TempDir()
	m, logs := start(t, Config{Dir: dir, Interval: 20 * time.Millisecond})
	free := m.Usage().Free
	if free < 8<<30 {
		t.Fatalf("the filesystem of %s has %s free; this test needs 8 GiB", dir, IEC(free))
	}
	m.SetMinFreeBytes(free - 2<<30)
	waitCheck(t, m, false)

	ballast := filepath.Join(dir, "ballast")
	f, err := os.Create(ballast)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, 4<<30); err != nil {
		f.Close()
		t.Fatalf("fallocate 4 GiB: %v", err)
	}
	f.Close()
	waitCheck(t, m, true)
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitCheck(t, m, false)
	if below, above := logs.count("below the floor"), logs.count("back above the floor"); below != 1 || above != 1 {
		t.Fatalf("logged going below the floor %d times and back above %d times, want once each", below, above)
	}
}
