package raftnode

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// A node whose disk fails stops: it cannot keep the copy of the log the
// others count on, and a replica that went on without the writes it lost
// would diverge. Every storage failure the node meets goes to one place,
// storageFault, whichever store it comes from: a partition's segment files
// (the FSM adapter), the Raft log and its term and vote (the log store and
// stable store wrappers), a snapshot being written (the snapshot store
// wrapper), or the data directory itself (dirWatch). The first one
//
//   - is logged as one ERROR line naming the operation, the path and the
//     error, and reported to the Observer (raftline_storage_errors_total);
//   - fails the node: Ready is false, Fault names it, proposals are refused
//     with ErrStorageFault, and nothing further is written to the Raft log,
//     so the node neither counts towards a commit nor acknowledges a write;
//   - stops Raft (failStop): a leader first hands leadership over, bounded
//     by a few election timeouts, then the transport refuses every RPC and
//     Raft shuts down. Halted is closed then: broker/server stops serving
//     Kafka clients, and `raftline serve` exits with status 3.
//
// There is no retry: ENOSPC, EIO, EROFS and a directory removed underneath
// the process do not heal while the process runs, and hashicorp/raft left to
// itself steps down and retries for ever (a leader whose log write fails)
// or keeps answering RPCs it cannot store. Kafka halts a broker whose only
// log directory failed, and etcd exits on a WAL error, for the same reason.

// StorageOp names what the node was doing on its disk when it failed: the
// values of raftline_storage_errors_total's op label.
type StorageOp string

const (
	// OpPartitionWrite: a partition's segment files (--storage disk):
	// a write, a segment created, renamed or removed.
	OpPartitionWrite StorageOp = "partition_write"
	// OpRaftLogWrite: the Raft log (raft-wal): an append with its fsync,
	// a new segment, a truncation.
	OpRaftLogWrite StorageOp = "raft_log_write"
	// OpRaftLogRead: an entry the Raft log cannot give back.
	OpRaftLogRead StorageOp = "raft_log_read"
	// OpRaftStateWrite: the current term or vote (raft-wal's metadata
	// database).
	OpRaftStateWrite StorageOp = "raft_state_write"
	// OpSnapshotWrite: a snapshot written to raft/snapshots, taken here
	// or received from the leader.
	OpSnapshotWrite StorageOp = "snapshot_write"
	// OpDataDir: the data directory (or raft/, raft/wal/ in it) was
	// removed or replaced, or the probe write and fsync failed (dirWatch).
	OpDataDir StorageOp = "data_dir"
)

// StorageOps lists every StorageOp, for metrics exported at 0 from start.
var StorageOps = []StorageOp{OpPartitionWrite, OpRaftLogWrite, OpRaftLogRead, OpRaftStateWrite, OpSnapshotWrite, OpDataDir}

// StorageFault is a failure of the node's disk: what was being done, on
// which file or directory, and the error.
type StorageFault struct {
	Op   StorageOp
	Path string
	Err  error
	At   time.Time
}

func (f *StorageFault) Error() string {
	return fmt.Sprintf("storage fault: %s %s: %v", f.Op, f.Path, f.Err)
}

func (f *StorageFault) Unwrap() error { return f.Err }

// ErrStorageFault is what proposals are refused with once the node failed
// on its disk. A write refused with it may still commit through the other
// nodes (as with ErrIndeterminate): a client must treat it as not
// acknowledged, and retry on the new leader.
var ErrStorageFault = errors.New("node stopped on a storage fault")

// Fault returns the storage fault that stopped the node, or nil.
func (n *Node) Fault() *StorageFault { return n.fault.Load() }

// Halted is closed once the node has stopped on a storage fault: it no
// longer leads, its transport refuses RPCs and Raft is shut down.
func (n *Node) Halted() <-chan struct{} { return n.halted }

// refused is the error a store wrapper returns instead of touching the disk
// once the node failed. A nil Node (a wrapper built alone, in tests) never
// fails.
func (n *Node) refused() error {
	if n == nil {
		return nil
	}
	if f := n.fault.Load(); f != nil {
		return fmt.Errorf("%w: %w", ErrStorageFault, f)
	}
	return nil
}

// storageFault reports err, met doing op on path, while Raft runs. Each is
// counted (Observer.StorageFailed); the first fails the node, as the
// comment at the top of this file says, and later ones are logged at
// DEBUG: they follow from the first. Errors before Raft runs are Open's to
// return, and are not reported here.
func (n *Node) storageFault(op StorageOp, path string, err error) {
	if !n.isRunning() {
		return
	}
	f := &StorageFault{Op: op, Path: path, Err: err, At: time.Now()}
	if n.cfg.Observer != nil {
		n.cfg.Observer.StorageFailed(*f)
	}
	if !n.fault.CompareAndSwap(nil, f) {
		n.log.Debug("storage error after the storage fault", "op", string(op), "path", path, "err", err)
		return
	}
	n.log.Error("storage fault: the node stops taking writes and exits", "op", string(op), "path", path, "err", err)
	n.BeginStop()
	go n.failStop()
}

// isRunning reports whether Raft runs (false on a nil Node).
func (n *Node) isRunning() bool { return n != nil && n.running.Load() }

// stopRaftGoroutine ends the calling goroutine, one of hashicorp/raft's,
// after a storage fault it cannot be told about: raft panics when it fails
// to save its term (setCurrentTerm) or to read an entry it must apply
// (processLogs), and a panic would end the process with a stack trace
// before failStop hands leadership over. runtime.Goexit runs the
// goroutine's deferred calls, as raft's own shutdown would (a leader's
// stops its replication and answers its pending writes), so Raft's
// Shutdown still completes. Only called while Raft runs: before that the
// caller is Open, which returns the error.
func stopRaftGoroutine() { runtime.Goexit() }

// failStop takes the failed node out of the cluster: a leader hands
// leadership to an up-to-date voter (the others would otherwise wait an
// election timeout for its heartbeats to stop), for at most
// handOverFaultBound election timeouts, since its own Raft goroutine may be
// gone; then the transport refuses every RPC, so a leader whose main loop
// stopped sends no heartbeat, and Raft shuts down.
func (n *Node) failStop() {
	defer close(n.halted)
	election := n.raft.ReloadableConfig().ElectionTimeout
	if n.IsLeader() {
		done := make(chan struct{})
		go func() { defer close(done); n.handOver() }()
		select {
		case <-done:
		case <-time.After(handOverFaultBound * election):
			n.log.Info("no leadership transfer after the storage fault; stopping anyway", "waited", handOverFaultBound*election)
		}
	}
	n.transport.halt()
	shut := make(chan struct{})
	go func() { defer close(shut); n.raft.Shutdown().Error() }()
	select {
	case <-shut:
	case <-time.After(handOverFaultBound * election):
		n.log.Debug("raft still shutting down after the storage fault")
	}
}

// handOverFaultBound is how many election timeouts a failed leader spends
// handing leadership over, and then waits for Raft to shut down.
const handOverFaultBound = 4
