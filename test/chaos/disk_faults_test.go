//go:build chaos && linux

package chaos

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/test/chaos/harness"
	"github.com/raftline/raftline/test/internal/diskfault"
)

// Scenario 13. The leader's disk fills under load. Every node's data
// directory is a tmpfs of its own (512 MiB); the leader's is shrunk to what
// it holds plus 1 MiB, and the load fills it. The node must stop on the
// first failed write (fail-stop: one ERROR line, /readyz says why, its
// Kafka port closed, exit status 3), never acknowledge a write after it,
// and the other two must carry on with nothing acknowledged lost. Back on
// an empty disk, as the runbook says, it catches up.
func TestChaos_LeaderDiskFull_FailStopNothingLost(t *testing.T) {
	if err := diskfault.Check(); err != nil {
		t.Fatalf("disk faults need: %v", err)
	}
	s := begin(t, "13 disk full", "the leader's data directory (tmpfs, --storage disk) fills under load; it restarts on an empty disk")
	const exitDelay = 3 * time.Second
	s.c = harness.New(t, raftlineBin, harness.Options{DiskBytes: 512 << 20,
		// No free-space floor: the scenario is a disk that really fills.
		Args: []string{"--storage", "disk", "--storage-fault-exit-delay", exitDelay.String(), "--storage-min-free-bytes", "0"}})
	c := s.c
	p := s.load(300)
	leader := c.WaitLeader(10*time.Second, nil)

	c.ExpectFaultExit(leader)
	size, err := diskfault.Shrink(leader.Pid(), leader.DataDir(), 1<<20)
	s.prove(fmt.Sprintf("%v's data directory (tmpfs) shrunk to %d KiB, 1 MiB more than it held", leader, size>>10), err)

	var ready string
	err = harness.Poll(120*time.Second, func() error {
		body, code, err := readyz(leader)
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "storage fault") {
			return fmt.Errorf("/readyz %d %q", code, body)
		}
		ready = body
		return nil
	})
	faultAt := time.Now()
	s.prove(fmt.Sprintf("%v filled its disk; its /readyz: %s", leader, ready), err)
	s.probeMustFail(fmt.Sprintf("%v after its storage fault", leader), s.probes(leader, 3, 2*time.Second)...)

	newLeader := c.WaitNewLeader(15*time.Second, c.Others(leader), leader)
	elected := time.Since(faultAt)
	p.WaitMoreAcks(t, 500, 30*time.Second)
	if first, ok := p.FirstAckAfter(faultAt); ok {
		s.figure("storage fault reported to first acknowledged produce", first.Sub(faultAt), failoverTarget)
	}
	s.figure("storage fault reported to an agreed new leader (polled every 20ms)", elected, 0)
	s.note("%v took over from %v", newLeader, leader)

	code, how := c.WaitFaultExit(leader, exitDelay+30*time.Second)
	log, lerr := leader.LogSinceStart()
	var errLines []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=ERROR") {
			errLines = append(errLines, l)
		}
	}
	switch {
	case lerr != nil:
		err = lerr
	case code != 3:
		err = fmt.Errorf("%s: exit status %d, want 3", how, code)
	case len(errLines) != 1 || !strings.Contains(errLines[0], "storage fault") || !strings.Contains(errLines[0], "no space left on device"):
		err = fmt.Errorf("%d ERROR lines, want one storage fault naming ENOSPC: %q", len(errLines), errLines)
	default:
		err = nil
	}
	if err == nil {
		s.prove(fmt.Sprintf("%s, status 3, after one ERROR line: %s", how, errLines[0]), nil)
	} else {
		s.prove("the node exits with status 3 after one ERROR line", err)
	}

	// Back on a new, empty tmpfs: it rejoins and catches up from the others.
	c.Start(leader)
	c.WaitReady(60*time.Second, c.Nodes...)
	s.waitCaughtUp(leader, s.commitIndex(newLeader), 60*time.Second)
	s.finish()
}

// readyz is the node's /readyz answer.
func readyz(n *harness.Node) (string, int, error) {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + n.HTTP + "/readyz")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return strings.TrimSpace(string(b)), resp.StatusCode, err
}
