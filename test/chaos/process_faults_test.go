//go:build chaos && linux

package chaos

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/test/chaos/harness"
)

// Scenario 1. The leader dies mid-load; a follower must take over and
// writes resume. Failover is measured from the kill to the first
// acknowledgement of a record handed to the client after the kill.
func TestChaos_LeaderKilled_FailoverUnderLoad(t *testing.T) {
	s := begin(t, "01 leader failure", "SIGKILL the leader under load, then restart it")
	c := s.cluster()
	p := s.loadWithGroup(300, 2)
	leader := c.WaitLeader(10*time.Second, nil)

	killedAt := time.Now()
	how := c.Kill(leader)
	_, err := net.DialTimeout("tcp", leader.Kafka, time.Second)
	if err == nil {
		err = fmt.Errorf("%s still accepts connections", leader.Kafka)
	} else {
		err = nil
	}
	s.prove(fmt.Sprintf("leader %s; its Kafka port refuses connections", how), err)

	newLeader := c.WaitNewLeader(15*time.Second, c.Running(), leader)
	elected := time.Since(killedAt)
	p.WaitMoreAcks(t, 500, 30*time.Second)
	first, ok := p.FirstAckAfter(killedAt)
	if !ok {
		s.fail("no record produced after the kill was acknowledged")
	}
	s.note("%v took over from %v", newLeader, leader)
	s.figure("failover: kill to first acknowledged produce", first.Sub(killedAt), failoverTarget)
	s.figure("election: kill to an agreed new leader (polled every 20ms)", elected, 0)

	c.Start(leader)
	c.WaitReady(30*time.Second, c.Nodes...)
	s.finish()
}

// Scenario 5. Nodes die one at a time. With one gone, writes go on; with
// two gone the survivor has no quorum: a produce must then fail promptly
// with a retriable error (never hang past its timeout, never be
// acknowledged). Restoring the nodes brings writes back with nothing lost.
func TestChaos_CascadingFailures_QuorumLossFailsCleanly(t *testing.T) {
	s := begin(t, "05 cascading failures", "SIGKILL both followers one after the other, then restart them")
	c := s.cluster()
	p := s.load(300)
	leader := c.WaitLeader(10*time.Second, nil)
	f := c.Others(leader)

	s.prove(c.Kill(f[0]), nil)
	p.WaitMoreAcks(t, 500, 30*time.Second)
	s.note("writes went on with %v down", f[0])

	quorumLost := time.Now()
	s.prove(c.Kill(f[1]), nil)
	// One probe at once, while the leader may still think it leads (its
	// lease has not run out): it may propose the write but cannot commit it.
	const timeout, slack = 2 * time.Second, 5 * time.Second
	early := make(chan harness.ProbeResult, 1)
	go func() { early <- harness.Probe(s.book, leader, topic, 0, timeout, slack) }()
	desc, err := s.waitLostLeader(leader, 10*time.Second)
	s.prove("quorum lost: "+desc, err)
	s.probeMustRetriablyFail("the last node, as its quorum went", timeout, slack, <-early)
	s.probeMustRetriablyFail("the last node without a quorum", timeout, slack, s.probes(leader, 3, timeout)...)
	// The producer keeps trying for a while with no quorum: a window
	// measured by the clock, shaping the scenario, not timing it.
	holdUntil(quorumLost.Add(4 * time.Second))
	restored := time.Now()
	if n := p.AcksBetween(quorumLost.Add(ackGrace), restored); n > 0 {
		s.fail("%d records acknowledged while the quorum was lost", n)
	}
	s.figure("quorum lost for", restored.Sub(quorumLost), 0)

	c.Start(f[0])
	c.WaitLeader(30*time.Second, c.Running())
	p.WaitMoreAcks(t, 500, 30*time.Second)
	if first, ok := p.FirstAckHeardAfter(restored); ok {
		s.figure("restart of the first node to first acknowledged produce", first.Sub(restored), 0)
	}
	c.Start(f[1])
	c.WaitReady(30*time.Second, c.Nodes...)
	s.finish()
}

// Scenario 6. SIGTERM on the leader hands leadership over before the node
// stops, so clients see at most a brief gap; the node then rejoins and
// catches up.
func TestChaos_GracefulLeaderShutdown_TransfersLeadership(t *testing.T) {
	s := begin(t, "06 graceful shutdown", "SIGTERM the leader under load, then restart it")
	c := s.cluster()
	p := s.loadWithGroup(300, 2)
	leader := c.WaitLeader(10*time.Second, nil)
	before, err := leader.View()
	if err != nil {
		t.Fatal(err)
	}

	termAt := time.Now()
	how := c.Term(leader)
	log, err := leader.LogSinceStart()
	if err == nil && !strings.Contains(log, "transferred leadership before shutdown") {
		err = fmt.Errorf("its log does not say it transferred leadership")
	}
	s.prove(fmt.Sprintf("leader %s after transferring leadership (its log says so)", how), err)
	newLeader := c.WaitNewLeader(15*time.Second, c.Running(), leader)
	after, err := newLeader.View()
	if err != nil {
		t.Fatal(err)
	}
	p.WaitMoreAcks(t, 500, 30*time.Second)
	resumed := time.Now()
	s.note("%v handed over to %v (term %d -> %d)", leader, newLeader, before.Term, after.Term)
	s.figure("graceful leader shutdown: longest produce gap from SIGTERM", p.LongestGap(termAt, resumed), gracefulGapTarget)

	c.Start(leader)
	c.WaitReady(30*time.Second, c.Nodes...)
	s.waitCaughtUp(leader, s.commitIndex(newLeader), 30*time.Second)
	s.finish()
}

// Scenario 7. A follower is killed mid-load and restarted: it replays its
// log and catches up. Then every node is killed at once and restarted:
// nothing acknowledged may be lost, since an acknowledgement means a
// quorum had the record on disk.
func TestChaos_CrashRecovery_LogReplayRestoresState(t *testing.T) {
	s := begin(t, "07 crash recovery", "SIGKILL a follower mid-load, restart; then SIGKILL all three at once, restart")
	c := s.cluster()
	p := s.loadWithGroup(300, 2)
	leader := c.WaitLeader(10*time.Second, nil)
	f := c.Others(leader)[0]

	s.prove(c.Kill(f), nil)
	p.WaitMoreAcks(t, 800, 30*time.Second)
	c.Start(f)
	c.WaitReady(30*time.Second, f)
	s.waitCaughtUp(f, s.commitIndex(leader), 30*time.Second)

	var committed uint64
	for _, n := range c.Nodes {
		committed = max(committed, s.commitIndex(n))
	}
	s.prove("whole cluster crashed at once: "+strings.Join(c.KillAll(c.Nodes...), "; "), nil)
	restarted := time.Now()
	for _, n := range c.Nodes {
		c.Start(n)
	}
	c.WaitLeader(30*time.Second, nil)
	p.WaitMoreAcks(t, 500, 60*time.Second)
	if first, ok := p.FirstAckHeardAfter(restarted); ok {
		s.figure("full restart to first acknowledged produce", first.Sub(restarted), 0)
	}
	for _, n := range c.Nodes {
		s.waitCaughtUp(n, committed, 30*time.Second)
	}
	s.note("every node replayed past index %d, the highest commit index seen before the crash", committed)
	s.finish()
}

// Scenario 8. A follower is down while the leader writes and compacts its
// log past the follower's last entry; on restart the follower can only
// catch up from a snapshot, and must end identical.
func TestChaos_StaleNode_CatchesUpThroughSnapshot(t *testing.T) {
	const trailing = 200
	s := begin(t, "08 stale node catch-up", "SIGKILL a follower, compact the leader's log past it, restart it")
	c := s.cluster("--snapshot-threshold", "400", "--snapshot-interval", "1s", "--trailing-logs", fmt.Sprint(trailing))
	p := s.load(300)
	leader := c.WaitLeader(10*time.Second, nil)
	f := c.Others(leader)[0]
	v, err := f.View()
	if err != nil {
		t.Fatal(err)
	}
	s.prove(c.Kill(f), nil)

	var snap uint64
	harness.WaitFor(t, 90*time.Second, "the leader to compact its log past the stopped follower", func() error {
		snap = newestSnapshotIndex(leader.DataDir())
		if snap <= v.LastIndex+trailing {
			return fmt.Errorf("newest snapshot at index %d, follower's last index %d", snap, v.LastIndex)
		}
		return nil
	})
	s.prove(fmt.Sprintf("leader snapshotted at index %d keeping %d entries, so its log starts after %v's last index %d",
		snap, trailing, f, v.LastIndex), nil)

	c.Start(f)
	var log string
	err = harness.Poll(60*time.Second, func() error {
		log, _ = f.LogSinceStart()
		if !strings.Contains(log, "Installed remote snapshot") {
			return fmt.Errorf("%v has not logged installing a snapshot", f)
		}
		return nil
	})
	s.prove(fmt.Sprintf("%v logged \"Installed remote snapshot\" after restarting", f), err)
	s.waitCaughtUp(f, s.commitIndex(leader), 30*time.Second)
	p.WaitMoreAcks(t, 300, 30*time.Second)
	s.finish()
}

// newestSnapshotIndex reads the Raft index of the newest snapshot in a
// node's data directory (hashicorp/raft's file snapshot store), or 0.
func newestSnapshotIndex(dataDir string) uint64 {
	metas, _ := filepath.Glob(filepath.Join(dataDir, "raft", "snapshots", "*", "meta.json"))
	var newest uint64
	for _, m := range metas {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		var meta struct{ Index uint64 }
		if json.Unmarshal(b, &meta) == nil {
			newest = max(newest, meta.Index)
		}
	}
	return newest
}

// Scenario 9. Every node is restarted in turn under load, followers first
// and the leader last, each with SIGTERM; each must rejoin and catch up
// before the next goes.
func TestChaos_RollingRestart_UnderLoad(t *testing.T) {
	s := begin(t, "09 rolling restart", "SIGTERM and restart each node in turn under load")
	c := s.cluster()
	p := s.loadWithGroup(300, 2)
	leader := c.WaitLeader(10*time.Second, nil)
	order := append(c.Others(leader), leader)
	for _, n := range order {
		oldPid := n.Pid()
		at := time.Now()
		how := c.Term(n)
		c.Start(n)
		c.WaitReady(30*time.Second, c.Nodes...)
		l := c.WaitLeader(30*time.Second, nil)
		s.waitCaughtUp(n, s.commitIndex(l), 30*time.Second)
		s.prove(fmt.Sprintf("%s; restarted as pid %d (was %d)", how, n.Pid(), oldPid), nil)
		p.WaitMoreAcks(t, 300, 30*time.Second)
		s.figure(fmt.Sprintf("longest produce gap while %v restarted", n), p.LongestGap(at, time.Now()), 0)
	}
	s.finish()
}

// Scenario 12 (the frozen node of the process faults). SIGSTOP freezes the
// leader without closing a socket; the others elect a new leader. A write
// sent to the frozen leader is read only when it thaws, when it is no
// longer leader: it must not be acknowledged.
func TestChaos_FrozenLeader_ThawsAsFollower(t *testing.T) {
	s := begin(t, "12 frozen leader", "SIGSTOP the leader under load, SIGCONT it later")
	c := s.cluster()
	p := s.load(300)
	leader := c.WaitLeader(10*time.Second, nil)

	frozenAt := time.Now()
	s.prove(c.Freeze(leader), nil)
	probe := make(chan harness.ProbeResult, 1)
	go func() { probe <- harness.Probe(s.book, leader, topic, 0, 2*time.Second, 60*time.Second) }()
	newLeader := c.WaitNewLeader(15*time.Second, c.Others(leader), leader)
	s.figure("freeze to an agreed new leader (polled every 20ms)", time.Since(frozenAt), 0)
	// How long the producer takes to give up on the frozen node is the
	// client's business: franz-go has been seen to retry its batches
	// against the frozen connection for ~30s before moving them to the new
	// leader the metadata already named. The deadline leaves room for that.
	p.WaitMoreAcks(t, 500, 90*time.Second)
	if first, ok := p.FirstAckAfter(frozenAt); ok {
		s.figure("freeze to first acknowledged produce", first.Sub(frozenAt), 0)
	}

	c.Thaw(leader)
	harness.WaitFor(t, 15*time.Second, fmt.Sprintf("%v to follow %v", leader, newLeader), func() error {
		v, err := leader.View()
		if err != nil {
			return err
		}
		if v.State != "follower" || v.LeaderID != newLeader.ID {
			return fmt.Errorf("%v is %s, leader %d", leader, v.State, v.LeaderID)
		}
		return nil
	})
	s.probeMustFail("the frozen old leader", <-probe)
	p.WaitMoreAcks(t, 300, 30*time.Second)
	s.finish()
}
