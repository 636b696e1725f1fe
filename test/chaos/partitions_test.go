//go:build chaos && linux

package chaos

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/test/chaos/harness"
	"github.com/raftline/raftline/test/chaos/netfault"
)

// probeTimeout is a probe's own Produce timeout; probeSlack how much later
// than that its answer may come before it counts as a hang.
const probeTimeout, probeSlack = 2 * time.Second, 5 * time.Second

// isolate cuts n from every other node. The proof, a TCP connect from a
// peer to n's Raft port that does not complete, runs alongside whatever
// the scenario measures next (it takes half a second by construction);
// proveCut waits for it and records it.
func (s *scenario) isolate(n *harness.Node) (f *netfault.Fault, proveCut func()) {
	s.t.Helper()
	f, err := s.c.Net.Isolate(n.Host)
	if err != nil {
		s.t.Fatalf("isolating %v: %v", n, err)
	}
	s.t.Cleanup(func() { f.Heal() })
	type result struct {
		proof string
		err   error
	}
	ch := make(chan result, 1)
	peer := s.c.Others(n)[0]
	go func() {
		p, err := cutProof(peer, n)
		ch <- result{p, err}
	}()
	return f, func() {
		s.t.Helper()
		r := <-ch
		s.prove(r.proof, r.err)
	}
}

// dropped reads how many packets a cut has dropped so far.
func (s *scenario) dropped(f *netfault.Fault) int64 {
	s.t.Helper()
	st, err := f.Stats()
	if err != nil {
		s.t.Fatalf("reading the counters of %s: %v", f.Desc, err)
	}
	return st.Dropped
}

// Scenario 2. One follower is cut off from both peers. The majority keeps
// accepting writes; the isolated node accepts none and applies nothing;
// after healing it catches up and ends byte-identical.
func TestChaos_MinorityPartition_IsolatedFollowerAcceptsNothing(t *testing.T) {
	s := begin(t, "02 minority partition", "isolate one follower from both peers, then heal")
	c := s.cluster()
	p := s.load(300)
	leader := c.WaitLeader(10*time.Second, nil)
	f := c.Others(leader)[0]
	if err := reachProof(leader, f); err != nil {
		t.Fatalf("before the fault: %v", err)
	}

	fault, proveCut := s.isolate(f)
	proveCut()
	desc, err := s.waitLostLeader(f, 10*time.Second)
	s.prove(desc, err)
	before, err := f.View()
	if err != nil {
		t.Fatal(err)
	}
	p.WaitMoreAcks(t, 1000, 30*time.Second)
	s.note("the majority acknowledged 1000 more records while %v was cut off", f)
	s.probeMustRetriablyFail("the isolated follower", probeTimeout, probeSlack, s.probes(f, 3, probeTimeout)...)
	after, err := f.View()
	if err != nil {
		t.Fatal(err)
	}
	// Applying may still be catching up with the last commit it heard of;
	// committing anything new would take a leader it cannot reach.
	if after.CommitIndex != before.CommitIndex || after.AppliedIndex > before.CommitIndex {
		s.fail("the isolated %v moved from commit %d to commit %d, applied %d", f, before.CommitIndex, after.CommitIndex, after.AppliedIndex)
	}
	s.prove(fmt.Sprintf("the kernel dropped %d packets between %v and its peers", s.dropped(fault), f), nil)

	s.heal(fault)
	healed := time.Now()
	s.waitCaughtUp(f, s.commitIndex(leader), 30*time.Second)
	s.figure("heal to the isolated node caught up", time.Since(healed), 0)
	if l := c.WaitLeader(15*time.Second, nil); l != leader {
		s.note("leadership moved from %v to %v when the partition healed", leader, l)
	}
	s.finish()
}

// Scenario 3. The leader is cut off from both followers while clients still
// reach it. It must step down; no write sent to it may be acknowledged, and
// every one must be answered with a retriable error; the majority elects a
// new leader and goes on.
func TestChaos_LeaderIsolated_StepsDownNoMinorityAck(t *testing.T) {
	s := begin(t, "03 leader isolated", "isolate the leader from both followers (clients still reach it), then heal")
	c := s.cluster()
	p := s.loadWithGroup(300, 2)
	leader := c.WaitLeader(10*time.Second, nil)
	others := c.Others(leader)

	cutAt := time.Now()
	early := make(chan []harness.ProbeResult, 1)
	fault, proveCut := s.isolate(leader)
	// Probes sent at once reach a node that may still believe it leads.
	go func() { early <- s.probes(leader, 3, probeTimeout) }()
	desc, err := s.waitLostLeader(leader, 10*time.Second)
	s.figure("isolation to the old leader stepping down", time.Since(cutAt), 0)
	proveCut()
	s.prove(desc, err)
	if v, err := leader.View(); err == nil && v.LastIndex > v.CommitIndex {
		s.note("the old leader holds %d uncommitted entries past its commit index %d", v.LastIndex-v.CommitIndex, v.CommitIndex)
	}
	newLeader := c.WaitNewLeader(15*time.Second, others, leader)
	s.figure("isolation to a new leader on the majority side", time.Since(cutAt), 0)
	p.WaitMoreAcks(t, 1000, 30*time.Second)
	s.probeMustRetriablyFail("the isolated old leader", probeTimeout, probeSlack, <-early...)
	s.probeMustRetriablyFail("the isolated old leader", probeTimeout, probeSlack, s.probes(leader, 3, probeTimeout)...)
	s.prove(fmt.Sprintf("the kernel dropped %d packets between %v and its peers", s.dropped(fault), leader), nil)

	s.heal(fault)
	s.waitCaughtUp(leader, s.commitIndex(newLeader), 30*time.Second)
	s.finish()
}

// Scenario 4. Partitions of several shapes come and go under load: the
// leader isolated (its uncommitted tail must be thrown away), one-way cuts
// in both directions between the leader and a follower, and a run of short
// flapping partitions. At the end every replica's partition logs must be
// byte-identical.
func TestChaos_PartitionAndHeal_ReplicasByteIdentical(t *testing.T) {
	s := begin(t, "04 partition and heal", "leader isolated; one-way cuts leader->follower and follower->leader; 6 flapping partitions; heal")
	c := s.cluster()
	p := s.load(300)

	// Round 1: the leader isolated, with writes sent into the minority.
	leader := c.WaitLeader(10*time.Second, nil)
	fault, proveCut := s.isolate(leader)
	res := make(chan []harness.ProbeResult, 1)
	go func() { res <- s.probes(leader, 3, probeTimeout) }()
	proveCut()
	desc, err := s.waitLostLeader(leader, 10*time.Second)
	s.prove(desc, err)
	newLeader := c.WaitNewLeader(15*time.Second, c.Others(leader), leader)
	if v, err := leader.View(); err == nil && v.LastIndex > v.CommitIndex {
		s.note("round 1: the isolated old leader holds %d uncommitted entries", v.LastIndex-v.CommitIndex)
	}
	p.WaitMoreAcks(t, 500, 30*time.Second)
	s.probeMustFail("the isolated old leader", <-res...)
	s.heal(fault)
	s.waitCaughtUp(leader, s.commitIndex(newLeader), 30*time.Second)

	// Round 2: one-way cuts. Leader to follower: the follower hears
	// nothing and loses its leader while the leader goes on.
	leader = c.WaitLeader(15*time.Second, nil)
	f := c.Others(leader)[0]
	oneWay, err := c.Net.CutOneWay(leader.Host, f.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { oneWay.Heal() })
	desc, err = s.waitLostLeader(f, 10*time.Second)
	s.prove(fmt.Sprintf("one-way %v -> %v: %s", leader, f, desc), err)
	p.WaitMoreAcks(t, 500, 30*time.Second)
	if l, err := c.Leader(c.Others(f)); err != nil || l != leader {
		s.note("round 2: leadership moved during the one-way cut %v -> %v (%v)", leader, f, err)
	}
	s.prove(fmt.Sprintf("one-way %v -> %v: the kernel dropped %d packets", leader, f, s.dropped(oneWay)), nil)
	s.heal(oneWay)
	s.waitCaughtUp(f, s.commitIndex(leader), 30*time.Second)

	// Follower to leader: the leader's appends still arrive, the answers
	// do not.
	leader = c.WaitLeader(15*time.Second, nil)
	f = c.Others(leader)[0]
	back, err := c.Net.CutOneWay(f.Host, leader.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Heal() })
	holdUntil(time.Now().Add(2 * time.Second))
	p.WaitMoreAcks(t, 500, 30*time.Second)
	n := s.dropped(back)
	var proofErr error
	if n == 0 {
		proofErr = fmt.Errorf("no packet from %v to %v was dropped", f, leader)
	}
	s.prove(fmt.Sprintf("one-way %v -> %v: the kernel dropped %d packets", f, leader, n), proofErr)
	s.heal(back)
	leader = c.WaitLeader(15*time.Second, nil)
	s.waitCaughtUp(f, s.commitIndex(leader), 30*time.Second)

	// Round 3: short partitions of one node after another, some shorter
	// and some longer than an election timeout.
	var flaps []string
	for i := range 6 {
		n := c.Nodes[i%len(c.Nodes)]
		ff, err := c.Net.Isolate(n.Host)
		if err != nil {
			t.Fatal(err)
		}
		d := 300*time.Millisecond + rand.N(900*time.Millisecond)
		holdUntil(time.Now().Add(d))
		dropped := s.dropped(ff)
		s.heal(ff)
		if dropped == 0 {
			s.prove(fmt.Sprintf("flap %d", i+1), fmt.Errorf("isolating %v for %v dropped no packet", n, d))
		}
		flaps = append(flaps, fmt.Sprintf("%v %v (%d dropped)", n, d.Round(time.Millisecond), dropped))
	}
	s.prove("6 flapping partitions: "+strings.Join(flaps, ", "), nil)
	c.WaitLeader(30*time.Second, nil)
	p.WaitMoreAcks(t, 500, 30*time.Second)

	s.finish()
	if digests, err := c.Identical(5 * time.Second); err == nil {
		var hashes []string
		for _, d := range digests {
			hashes = append(hashes, fmt.Sprintf("%s/%d: %d records, sha256 %.12s", d.Topic, d.Partition, d.HighWatermark-d.LogStart, d.SHA256))
		}
		s.note("per-partition digests equal on all nodes: %s", strings.Join(hashes, "; "))
	}
}

// Scenario 10. Two faults at once: a follower is killed while the leader is
// cut off, which leaves no quorum anywhere. Recovery in two steps: the
// follower restarts (with the other follower a majority again, away from
// the old leader), then the partition heals.
func TestChaos_ConcurrentFailures_KillAndPartition(t *testing.T) {
	s := begin(t, "10 concurrent failures", "at once: SIGKILL a follower and isolate the leader; restart the follower; heal")
	c := s.cluster()
	p := s.load(300)
	leader := c.WaitLeader(10*time.Second, nil)
	f1, f2 := c.Others(leader)[0], c.Others(leader)[1]

	at := time.Now()
	fault, err := c.Net.Isolate(leader.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fault.Heal() })
	how := c.Kill(f1)
	proof, err := cutProof(f2, leader)
	s.prove(how+"; "+proof, err)
	desc, err := s.waitLostLeader(leader, 10*time.Second)
	s.prove("no quorum: "+desc, err)
	s.probeMustRetriablyFail("the isolated old leader", probeTimeout, probeSlack, s.probes(leader, 2, probeTimeout)...)
	s.probeMustRetriablyFail("the follower left alone", probeTimeout, probeSlack, s.probes(f2, 2, probeTimeout)...)
	holdUntil(at.Add(4 * time.Second))
	recovered := time.Now()
	if n := p.AcksBetween(at.Add(ackGrace), recovered); n > 0 {
		s.fail("%d records acknowledged with no quorum anywhere", n)
	}

	c.Start(f1)
	newLeader := c.WaitNewLeader(30*time.Second, []*harness.Node{f1, f2}, leader)
	p.WaitMoreAcks(t, 500, 30*time.Second)
	if first, ok := p.FirstAckHeardAfter(recovered); ok {
		s.figure("follower restart to first acknowledged produce", first.Sub(recovered), 0)
	}
	s.note("%v leads the restored majority while %v is still cut off", newLeader, leader)
	s.prove(fmt.Sprintf("the kernel dropped %d packets between %v and its peers", s.dropped(fault), leader), nil)
	s.heal(fault)
	s.waitCaughtUp(leader, s.commitIndex(newLeader), 30*time.Second)
	s.finish()
}
