package raftnode_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/raftnode"
)

// lockedBuffer is a node's log, written by Raft's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// faultNode is one node of openFaultCluster: its recorder, its log and the
// switch that makes its injected store fail.
type faultNode struct {
	testNode
	logs *lockedBuffer
	fail atomic.Bool
}

// openFaultCluster opens three in-process Raft nodes logging at INFO into
// their own buffers; wrap, when set, is given each node's config to install
// a failing store that fn.fail turns on.
func openFaultCluster(t *testing.T, wrap func(fn *faultNode)) []*faultNode {
	t.Helper()
	const size = 3
	ports := clustertest.FreePorts(t, size)
	var boot []raft.Server
	for i := range size {
		boot = append(boot, raft.Server{ID: raftnode.ServerID(int32(i + 1)), Address: raft.ServerAddress(fmt.Sprintf("127.0.0.1:%d", ports[i])), Suffrage: raft.Voter})
	}
	var nodes []*faultNode
	for i := range size {
		fn := &faultNode{logs: &lockedBuffer{}}
		fn.rec = &recorder{}
		fn.cfg = raftnode.Config{
			NodeID: int32(i + 1), DataDir: t.TempDir(), Addr: string(boot[i].Address), Bootstrap: boot,
			HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond, LeaderLeaseTimeout: 200 * time.Millisecond,
			Observer: fn.rec, Logger: slog.New(slog.NewTextHandler(fn.logs, nil)),
		}
		if wrap != nil {
			wrap(fn)
		}
		fn.open(t)
		nodes = append(nodes, fn)
	}
	t.Cleanup(func() {
		for _, fn := range nodes {
			fn.n.Kill()
		}
	})
	waitFaultLeader(t, nodes)
	return nodes
}

// waitFaultLeader waits until one of the nodes without a fault leads and
// the others without one know it.
func waitFaultLeader(t *testing.T, nodes []*faultNode, except ...*faultNode) *faultNode {
	t.Helper()
	var healthy []*testNode
outer:
	for _, fn := range nodes {
		for _, e := range except {
			if fn == e {
				continue outer
			}
		}
		healthy = append(healthy, &fn.testNode)
	}
	l := leaderOf(t, healthy)
	for _, fn := range nodes {
		if &fn.testNode == l || fn.n == l.n {
			return fn
		}
	}
	t.Fatal("leader not among the nodes")
	return nil
}

// waitHalted waits until the node has stopped on a storage fault and
// returns the fault.
func waitHalted(t *testing.T, fn *faultNode) *raftnode.StorageFault {
	t.Helper()
	select {
	case <-fn.n.Halted():
	case <-time.After(20 * time.Second):
		t.Fatalf("node %d has not halted; fault %v; log:\n%s", fn.n.ID(), fn.n.Fault(), fn.logs)
	}
	f := fn.n.Fault()
	if f == nil {
		t.Fatalf("node %d halted without a fault", fn.n.ID())
	}
	return f
}

// checkFailStopped checks what every storage fault must leave: one ERROR
// line naming the operation, the path and the error, and none after it; a
// storage event; a node that is not ready and refuses proposals with
// ErrStorageFault; and a cluster whose other two nodes elect a leader and
// commit.
func checkFailStopped(t *testing.T, nodes []*faultNode, failed *faultNode, op raftnode.StorageOp, path string) {
	t.Helper()
	f := waitHalted(t, failed)
	t.Logf("fault: %v", f)
	if f.Op != op || f.Path != path {
		t.Errorf("fault %s on %q, want %s on %q", f.Op, f.Path, op, path)
	}
	// The ERROR lines from the fault on: raft's lines about a peer the
	// test stopped before the fault may come before it.
	var errLines []string
	for _, l := range strings.Split(failed.logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") && (len(errLines) > 0 || strings.Contains(l, "storage fault")) {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], "storage fault") ||
		!strings.Contains(errLines[0], "op="+string(op)) || !strings.Contains(errLines[0], "path="+path) ||
		!strings.Contains(errLines[0], f.Err.Error()) {
		t.Errorf("ERROR lines %q: want one naming the storage fault, op=%s, path=%s and the error", errLines, op, path)
	}
	var storage int
	for _, e := range failed.rec.all() {
		if e.kind == "storage" {
			storage++
		}
	}
	if storage < 1 {
		t.Errorf("no StorageFailed event")
	}
	if failed.n.Ready() {
		t.Error("the failed node reports ready")
	}
	p := failed.n.Propose(fsm.Command{Op: fsm.OpRetention, TimeMs: 1}, nil)
	<-p.Done()
	if _, err := p.Result(); !errors.Is(err, raftnode.ErrStorageFault) {
		t.Errorf("a proposal on the failed node: %v, want ErrStorageFault", err)
	}
	// The leader may be winding down a transfer to the failed node, or be
	// newly elected: write until a write commits.
	var last error
	deadline := time.Now().Add(20 * time.Second)
	for {
		leader := waitFaultLeader(t, nodes, failed)
		p := leader.n.Propose(fsm.Command{Op: fsm.OpCreateTopic, TimeMs: 1, Topic: &fsm.CreateTopic{Name: "after-the-fault", Partitions: 1}}, nil)
		<-p.Done()
		res, err := p.Result()
		if err == nil && res.Err == nil {
			return
		}
		last = errors.Join(err, res.Err)
		if time.Now().After(deadline) {
			t.Fatalf("the other nodes do not commit: %v", last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// enospc is the error a full disk gives a write.
var enospc = &os.PathError{Op: "write", Path: "00000000000000000001-0000000000000001.wal", Err: syscall.ENOSPC}

// failingLog is a Raft log store whose appends fail with ENOSPC once
// switched on, as raft-wal's do on a full disk.
type failingLog struct {
	raft.LogStore
	fail *atomic.Bool
}

func (f failingLog) StoreLogs(logs []*raft.Log) error {
	if f.fail.Load() {
		return enospc
	}
	return f.LogStore.StoreLogs(logs)
}

func (f failingLog) StoreLog(l *raft.Log) error { return f.StoreLogs([]*raft.Log{l}) }

func (f failingLog) IsMonotonic() bool { return true }

// The leader's log append fails (a full disk): hashicorp/raft alone steps
// down and retries for ever. The node instead reports one storage fault,
// stops, and the other two elect a leader and go on.
func TestStorageFault_LeaderLogAppendFails_NodeStopsOthersGoOn(t *testing.T) {
	nodes := openFaultCluster(t, func(fn *faultNode) {
		raftnode.SetLogStoreWrapper(&fn.cfg, func(s raft.LogStore) raft.LogStore { return failingLog{s, &fn.fail} })
	})
	leader := waitFaultLeader(t, nodes)
	leader.fail.Store(true)
	p := leader.n.Propose(fsm.Command{Op: fsm.OpCreateTopic, TimeMs: 1, Topic: &fsm.CreateTopic{Name: "t", Partitions: 1}}, nil)
	<-p.Done()
	if _, err := p.Result(); err == nil {
		t.Fatal("the write the leader could not store was acknowledged")
	}
	checkFailStopped(t, nodes, leader, raftnode.OpRaftLogWrite, filepath.Join(leader.cfg.DataDir, "raft", "wal"))
	if !errors.Is(leader.n.Fault(), syscall.ENOSPC) {
		t.Errorf("fault %v does not carry ENOSPC", leader.n.Fault())
	}
}

// failingStable is a term and vote store whose writes fail once switched
// on.
type failingStable struct {
	raft.StableStore
	fail *atomic.Bool
}

func (f failingStable) Set(k, v []byte) error {
	if f.fail.Load() {
		return &os.PathError{Op: "write", Path: "wal-meta.db", Err: syscall.EIO}
	}
	return f.StableStore.Set(k, v)
}

func (f failingStable) SetUint64(k []byte, v uint64) error {
	if f.fail.Load() {
		return &os.PathError{Op: "write", Path: "wal-meta.db", Err: syscall.EIO}
	}
	return f.StableStore.SetUint64(k, v)
}

// A follower that cannot save its term when it starts an election: there
// hashicorp/raft panics ("failed to save current term"), which would end
// the process with a stack trace. The node reports the fault and stops its
// Raft goroutine instead; this test binary surviving shows no panic.
func TestStorageFault_TermCannotBeSaved_NoPanic(t *testing.T) {
	nodes := openFaultCluster(t, func(fn *faultNode) {
		raftnode.SetStableStoreWrapper(&fn.cfg, func(s raft.StableStore) raft.StableStore { return failingStable{s, &fn.fail} })
	})
	leader := waitFaultLeader(t, nodes)
	var f *faultNode
	for _, fn := range nodes {
		if fn != leader {
			f = fn
			break
		}
	}
	f.fail.Store(true)
	// A leadership transfer makes the follower start an election at once.
	leader.n.Raft().LeadershipTransferToServer(raftnode.ServerID(f.n.ID()), raft.ServerAddress(f.cfg.Addr))
	checkFailStopped(t, nodes, f, raftnode.OpRaftStateWrite, filepath.Join(f.cfg.DataDir, "raft", "wal"))
	if !errors.Is(f.n.Fault(), syscall.EIO) {
		t.Errorf("fault %v does not carry EIO", f.n.Fault())
	}
}

// A follower's data directory removed while it runs: every file it has
// open stays writable, so nothing fails until a file must be created,
// maybe hours later. The directory check finds it within seconds.
func TestStorageFault_DataDirRemoved_NodeStops(t *testing.T) {
	nodes := openFaultCluster(t, nil)
	leader := waitFaultLeader(t, nodes)
	var f *faultNode
	for _, fn := range nodes {
		if fn != leader {
			f = fn
			break
		}
	}
	if err := os.RemoveAll(f.cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	checkFailStopped(t, nodes, f, raftnode.OpDataDir, f.cfg.DataDir)
	if !errors.Is(f.n.Fault(), syscall.ENOENT) {
		t.Errorf("fault %v does not carry ENOENT", f.n.Fault())
	}
}

// A snapshot that cannot be written (here raft/snapshots is a file, so its
// directory cannot be made) stops the node: until one is written the Raft
// log cannot be compacted.
func TestStorageFault_SnapshotCannotBeWritten_NodeStops(t *testing.T) {
	nodes := openFaultCluster(t, nil)
	leader := waitFaultLeader(t, nodes)
	if _, err := createTopic(t, leader.n, "t", nil); err != nil {
		t.Fatal(err)
	}
	var f *faultNode
	for _, fn := range nodes {
		if fn != leader {
			f = fn
			break
		}
	}
	snaps := filepath.Join(f.cfg.DataDir, "raft", "snapshots")
	if err := os.RemoveAll(snaps); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snaps, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 10*time.Second, "the follower to apply the topic", func() bool {
		return f.n.Raft().AppliedIndex() >= leader.n.Raft().AppliedIndex()
	})
	err := f.n.Snapshot()
	t.Logf("snapshot: %v", err)
	if err == nil {
		t.Fatal("a snapshot was taken into a file")
	}
	checkFailStopped(t, nodes, f, raftnode.OpSnapshotWrite, snaps)
	if !errors.Is(f.n.Fault(), syscall.ENOTDIR) {
		t.Errorf("fault %v does not carry ENOTDIR", f.n.Fault())
	}
}

// unreadableLog is a Raft log store whose entries cannot be read back once
// switched on (a disk returning EIO); entries still in Raft's log cache are
// served from memory and never reach it.
type unreadableLog struct {
	raft.LogStore
	fail *atomic.Bool
}

func (u unreadableLog) GetLog(index uint64, l *raft.Log) error {
	if u.fail.Load() {
		return &os.PathError{Op: "read", Path: "00000000000000000001-0000000000000001.wal", Err: syscall.EIO}
	}
	return u.LogStore.GetLog(index, l)
}

func (u unreadableLog) IsMonotonic() bool { return true }

// The leader cannot read back the entries a follower that was down needs
// (more than its log cache holds): a storage fault, raised on a Raft
// replication goroutine, which ends rather than fail for ever; the leader
// hands over to the other follower, which catches the first one up.
func TestStorageFault_LeaderCannotReadItsLog_NodeStopsOthersGoOn(t *testing.T) {
	nodes := openFaultCluster(t, func(fn *faultNode) {
		raftnode.SetLogStoreWrapper(&fn.cfg, func(s raft.LogStore) raft.LogStore { return unreadableLog{s, &fn.fail} })
	})
	leader := waitFaultLeader(t, nodes)
	var down *faultNode
	for _, fn := range nodes {
		if fn != leader {
			down = fn
			break
		}
	}
	down.n.Kill()
	// More entries than the leader's log cache (256) holds, so the ones
	// the stopped follower lacks must come from the store.
	var ps []*raftnode.Proposal
	for i := range 400 {
		ps = append(ps, leader.n.Propose(fsm.Command{Op: fsm.OpCreateTopic, TimeMs: 1, Topic: &fsm.CreateTopic{Name: fmt.Sprintf("t%d", i), Partitions: 1}}, nil))
	}
	for _, p := range ps {
		<-p.Done()
		if _, err := p.Result(); err != nil {
			t.Fatal(err)
		}
	}
	leader.fail.Store(true)
	down.open(t)
	checkFailStopped(t, nodes, leader, raftnode.OpRaftLogRead, filepath.Join(leader.cfg.DataDir, "raft", "wal"))
	if !errors.Is(leader.n.Fault(), syscall.EIO) {
		t.Errorf("fault %v does not carry EIO", leader.n.Fault())
	}
}
