package raftnode_test

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/raftnode"
)

// event is one Observer call as a recorder saw it.
type event struct {
	kind   string // stored, committed, applied, sent, done, received, leader, snapshot, restored, storage
	index  uint64 // the entry's (stored: each entry of the write, one event per entry)
	term   uint64
	ext    []byte
	peer   raft.ServerID
	req    any
	resp   any
	err    error
	size   int64
	dur    time.Duration
	leader raft.ServerID
	fault  raftnode.StorageFault
}

// recorder records every event, in the order the node reported them.
type recorder struct {
	mu     sync.Mutex
	events []event
}

var _ raftnode.Observer = (*recorder)(nil)

func (r *recorder) add(e event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) all() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) LogsStored(e raftnode.LogsStored) {
	for _, l := range e.Logs {
		if l.AppendedAt.IsZero() {
			panic(fmt.Sprintf("entry %d stored without AppendedAt", l.Index))
		}
		r.add(event{kind: "stored", index: l.Index, term: l.Term, ext: bytes.Clone(l.Extensions), err: e.Err, dur: e.Duration})
	}
}

func (r *recorder) EntryCommitted(e raftnode.EntryCommitted) {
	if e.At.Before(e.AppendedAt) {
		panic(fmt.Sprintf("entry %d committed at %v, before it was appended at %v", e.Index, e.At, e.AppendedAt))
	}
	r.add(event{kind: "committed", index: e.Index, term: e.Term, ext: bytes.Clone(e.Extensions)})
}

func (r *recorder) EntryApplied(e raftnode.EntryApplied) {
	r.add(event{kind: "applied", index: e.Index, term: e.Term, ext: bytes.Clone(e.Extensions), err: e.Err, dur: e.Duration})
}

func (r *recorder) RPCSent(e raftnode.RPCSent) func(raftnode.RPCDone) {
	r.add(event{kind: "sent", peer: e.Target, req: e.Request})
	return func(d raftnode.RPCDone) {
		r.add(event{kind: "done", peer: e.Target, req: e.Request, resp: d.Response, err: d.Err, dur: d.Duration})
	}
}

func (r *recorder) RPCReceived(e raftnode.RPCReceived) {
	r.add(event{kind: "received", req: e.Request})
}

func (r *recorder) LeaderObserved(e raftnode.LeaderObserved) {
	r.add(event{kind: "leader", leader: e.Leader, term: e.Term})
}

func (r *recorder) SnapshotTaken(e raftnode.SnapshotTaken) {
	r.add(event{kind: "snapshot", size: e.Size, err: e.Err, dur: e.Duration})
}

func (r *recorder) SnapshotRestored(e raftnode.SnapshotRestored) {
	r.add(event{kind: "restored", err: e.Err, dur: e.Duration})
}

func (r *recorder) StorageFailed(e raftnode.StorageFault) {
	r.add(event{kind: "storage", err: e.Err, fault: e})
}

// position is where the first event of kind about index is in events, -1
// when there is none.
func position(events []event, kind string, index uint64) int {
	return slices.IndexFunc(events, func(e event) bool { return e.kind == kind && e.index == index })
}

type testNode struct {
	cfg raftnode.Config
	rec *recorder
	n   *raftnode.Node
}

// openCluster opens a cluster of in-process Raft nodes, each with its own
// recorder, and waits for a leader.
func openCluster(t *testing.T, size int) []*testNode {
	t.Helper()
	ports := clustertest.FreePorts(t, size)
	var boot []raft.Server
	for i := range size {
		boot = append(boot, raft.Server{ID: raftnode.ServerID(int32(i + 1)), Address: raft.ServerAddress(fmt.Sprintf("127.0.0.1:%d", ports[i])), Suffrage: raft.Voter})
	}
	var nodes []*testNode
	for i := range size {
		tn := &testNode{rec: &recorder{}}
		tn.cfg = raftnode.Config{
			NodeID: int32(i + 1), DataDir: t.TempDir(), Addr: string(boot[i].Address), Bootstrap: boot,
			HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond, LeaderLeaseTimeout: 200 * time.Millisecond,
			Observer: tn.rec,
		}
		tn.open(t)
		nodes = append(nodes, tn)
	}
	t.Cleanup(func() {
		for _, tn := range nodes {
			tn.n.Kill()
		}
	})
	leaderOf(t, nodes)
	return nodes
}

func (tn *testNode) open(t *testing.T) {
	t.Helper()
	n, err := raftnode.Open(tn.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn.n = n
}

// leaderOf waits until one node leads and every node knows it.
func leaderOf(t *testing.T, nodes []*testNode) *testNode {
	t.Helper()
	var leader *testNode
	clustertest.WaitFor(t, 10*time.Second, "a leader every node knows", func() bool {
		leader = nil
		for _, tn := range nodes {
			if tn.n.IsLeader() {
				leader = tn
			}
		}
		if leader == nil {
			return false
		}
		for _, tn := range nodes {
			if tn.n.Leader() != leader.n.ID() {
				return false
			}
		}
		return true
	})
	return leader
}

func createTopic(t *testing.T, n *raftnode.Node, name string, ext []byte) (uint64, error) {
	t.Helper()
	p := n.Propose(fsm.Command{Op: fsm.OpCreateTopic, TimeMs: time.Now().UnixMilli(), Topic: &fsm.CreateTopic{Name: name, Partitions: 1}}, ext)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("proposal not applied")
	}
	res, err := p.Result()
	if err != nil {
		t.Fatal(err)
	}
	return n.Raft().AppliedIndex(), res.Err
}

// A proposal shows on the leader as stored, then committed, then applied,
// with its extensions throughout; on each follower as received, stored and
// applied, never committed. The leader's AppendEntries carrying it to each
// follower is sent and answered.
func TestObserver_ProposalStoredCommittedAppliedOnEveryNode(t *testing.T) {
	nodes := openCluster(t, 3)
	leader := leaderOf(t, nodes)
	ext := []byte{1, 2, 3}
	if _, err := createTopic(t, leader.n, "orders", ext); err != nil {
		t.Fatal(err)
	}
	// The index is the applied entry's: find it by its extensions.
	var idx uint64
	for _, e := range leader.rec.all() {
		if e.kind == "applied" && bytes.Equal(e.ext, ext) {
			idx = e.index
		}
	}
	if idx == 0 {
		t.Fatal("the leader reported no applied entry with the proposal's extensions")
	}
	for _, tn := range nodes {
		clustertest.WaitFor(t, 10*time.Second, fmt.Sprintf("node %d to apply entry %d", tn.n.ID(), idx), func() bool {
			return position(tn.rec.all(), "applied", idx) >= 0
		})
	}

	events := leader.rec.all()
	s, c, a := position(events, "stored", idx), position(events, "committed", idx), position(events, "applied", idx)
	if s < 0 || c < 0 || a < 0 || !(s < c && c < a) {
		t.Fatalf("leader events for entry %d at stored %d, committed %d, applied %d; want them in that order", idx, s, c, a)
	}
	for _, i := range []int{s, c, a} {
		if !bytes.Equal(events[i].ext, ext) || events[i].term == 0 {
			t.Errorf("leader %s event %+v lost the entry's extensions or term", events[i].kind, events[i])
		}
	}
	if events[a].err != nil || events[a].dur <= 0 || events[s].dur <= 0 {
		t.Errorf("stored %+v, applied %+v: want durations and no error", events[s], events[a])
	}
	acked := map[raft.ServerID]bool{}
	for _, e := range events {
		ae, ok := e.req.(*raft.AppendEntriesRequest)
		if e.kind != "done" || !ok || !slices.ContainsFunc(ae.Entries, func(l *raft.Log) bool { return l.Index == idx }) {
			continue
		}
		if r, ok := e.resp.(*raft.AppendEntriesResponse); ok && e.err == nil && r.Success {
			acked[e.peer] = true
		}
	}
	for _, tn := range nodes {
		if tn == leader {
			continue
		}
		if id := raftnode.ServerID(tn.n.ID()); !acked[id] {
			t.Errorf("no successful AppendEntries carrying entry %d to follower %s (acked %v)", idx, id, acked)
		}
		events := tn.rec.all()
		r := slices.IndexFunc(events, func(e event) bool {
			ae, ok := e.req.(*raft.AppendEntriesRequest)
			return e.kind == "received" && ok && slices.ContainsFunc(ae.Entries, func(l *raft.Log) bool { return l.Index == idx })
		})
		s, a := position(events, "stored", idx), position(events, "applied", idx)
		if r < 0 || s < 0 || a < 0 || !(r < s && s < a) {
			t.Errorf("follower %d events for entry %d at received %d, stored %d, applied %d; want them in that order", tn.n.ID(), idx, r, s, a)
		} else if !bytes.Equal(events[a].ext, ext) {
			t.Errorf("follower %d applied entry without its extensions: %+v", tn.n.ID(), events[a])
		}
		if c := position(events, "committed", idx); c >= 0 {
			t.Errorf("follower %d reported entry %d committed", tn.n.ID(), idx)
		}
	}

	// The entry's own error reaches EntryApplied.
	idx, err := createTopic(t, leader.n, "orders", nil)
	if err == nil {
		t.Fatal("creating an existing topic succeeded")
	}
	events = leader.rec.all()
	if a := position(events, "applied", idx); a < 0 || events[a].err == nil || events[a].err.Error() != err.Error() {
		t.Errorf("applied event for the failed create: %+v, want error %v", events[max(a, 0)], err)
	}

	// The followers' lag is readable on the leader only, and the
	// configuration on every node.
	clustertest.WaitFor(t, 10*time.Second, "both followers' matched index to reach the entry", func() bool {
		m := leader.n.FollowerMatches()
		return len(m) == 2 && slices.Min(mapValues(m)) >= idx
	})
	for _, tn := range nodes {
		if tn != leader && tn.n.FollowerMatches() != nil {
			t.Errorf("follower %d reports follower matches", tn.n.ID())
		}
		if got := len(tn.n.Configuration()); got != 3 {
			t.Errorf("node %d holds a configuration of %d servers", tn.n.ID(), got)
		}
	}
}

func mapValues(m map[raft.ServerID]uint64) []uint64 {
	var out []uint64
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

type leaderTerm struct {
	leader raft.ServerID
	term   uint64
}

// Every node reports the leader once for its term; a transfer makes a new
// one, reported by every node, after votes were sent and received.
func TestObserver_LeadersOncePerTermAndVotes(t *testing.T) {
	nodes := openCluster(t, 3)
	old := leaderOf(t, nodes)
	if err := old.n.Raft().LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	var nl *testNode
	clustertest.WaitFor(t, 10*time.Second, "a new leader every node knows", func() bool {
		nl = leaderOf(t, nodes)
		return nl != old
	})
	term := nl.n.Raft().CurrentTerm()
	for _, tn := range nodes {
		clustertest.WaitFor(t, 10*time.Second, fmt.Sprintf("node %d to report leader %d", tn.n.ID(), nl.n.ID()), func() bool {
			return slices.ContainsFunc(tn.rec.all(), func(e event) bool { return e.kind == "leader" && e.leader == raftnode.ServerID(nl.n.ID()) })
		})
		seen := map[leaderTerm]int{}
		for _, e := range tn.rec.all() {
			if e.kind == "leader" {
				seen[leaderTerm{e.leader, e.term}]++
			}
		}
		if len(seen) < 2 {
			t.Errorf("node %d reported leaders %v, want the first and the new one", tn.n.ID(), seen)
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("node %d reported leader %s of term %d %d times", tn.n.ID(), k.leader, k.term, n)
			}
		}
		if seen[leaderTerm{raftnode.ServerID(nl.n.ID()), term}] != 1 {
			t.Errorf("node %d did not report leader %d for term %d: %v", tn.n.ID(), nl.n.ID(), term, seen)
		}
	}
	var sent, received bool
	for _, e := range nl.rec.all() {
		if _, ok := e.req.(*raft.RequestVoteRequest); ok && e.kind == "sent" {
			sent = true
		}
	}
	for _, tn := range nodes {
		for _, e := range tn.rec.all() {
			if _, ok := e.req.(*raft.RequestVoteRequest); ok && e.kind == "received" {
				received = true
			}
		}
	}
	if !sent || !received {
		t.Errorf("vote requests: sent by the new leader %v, received %v", sent, received)
	}
}

// A snapshot is reported with its size; a restarted node restores it, and
// reports its leader again: the observer is attached at every Open.
func TestObserver_SnapshotTakenAndRestoredAcrossRestart(t *testing.T) {
	nodes := openCluster(t, 1)
	tn := nodes[0]
	if _, err := createTopic(t, tn.n, "snap", nil); err != nil {
		t.Fatal(err)
	}
	if err := tn.n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	events := tn.rec.all()
	i := slices.IndexFunc(events, func(e event) bool { return e.kind == "snapshot" })
	if i < 0 || events[i].err != nil || events[i].size <= 0 || events[i].dur <= 0 {
		t.Fatalf("snapshot event %+v (found %v)", events[max(i, 0)], i >= 0)
	}
	if err := tn.n.Close(); err != nil {
		t.Fatal(err)
	}

	tn.rec = &recorder{}
	tn.cfg.Observer = tn.rec
	tn.open(t)
	leaderOf(t, nodes)
	clustertest.WaitFor(t, 10*time.Second, "the restarted node to report its leader", func() bool {
		return slices.ContainsFunc(tn.rec.all(), func(e event) bool { return e.kind == "leader" && e.leader == raftnode.ServerID(tn.n.ID()) })
	})
	events = tn.rec.all()
	r := slices.IndexFunc(events, func(e event) bool { return e.kind == "restored" })
	if r < 0 || events[r].err != nil {
		t.Fatalf("restored event %+v (found %v)", events[max(r, 0)], r >= 0)
	}
	if got := tn.n.SnapshotsRestored(); got != 1 {
		t.Errorf("SnapshotsRestored = %d, want 1", got)
	}
	if tn.n.State.Topic("snap") == nil {
		t.Error("the restored state lacks the topic")
	}
}
