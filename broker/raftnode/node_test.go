package raftnode_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/raftnode"
)

// unreadable is a log store whose entries before the last cannot be read
// back, as a damaged data directory's might be. (Raft reads the last entry
// first and returns an error itself when that fails; it panics on the ones
// before it.)
type unreadable struct{ raft.LogStore }

func (u unreadable) GetLog(index uint64, l *raft.Log) error {
	if last, err := u.LastIndex(); err != nil || index < last {
		return fmt.Errorf("entry %d: %w", index, errors.New("checksum mismatch"))
	}
	return u.LogStore.GetLog(index, l)
}

// A node whose Raft log cannot be read at start-up must fail to open with an
// error that names its data directory, not panic: hashicorp/raft panics on an
// unreadable entry while it scans the log for configuration changes.
func TestOpen_UnreadableLog_ErrorNotPanic(t *testing.T) {
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", clustertest.FreePorts(t, 1)[0])
	cfg := raftnode.Config{
		NodeID: 1, DataDir: dir, Addr: addr,
		Bootstrap: []raft.Server{{ID: raftnode.ServerID(1), Address: raft.ServerAddress(addr)}},
	}
	n, err := raftnode.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The bootstrap configuration is entry 1; wait until this lone voter
	// has elected itself, so the log holds entries to read back.
	deadline := time.Now().Add(10 * time.Second)
	for !n.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("single-node cluster did not elect itself")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	raftnode.SetLogStoreWrapper(&cfg, func(s raft.LogStore) raft.LogStore { return unreadable{s} })
	n, err = raftnode.Open(cfg)
	if err == nil {
		n.Close()
		t.Fatal("Open succeeded on a log it cannot read")
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "checksum mismatch") {
		t.Fatalf("error %q does not name the data directory and the cause", msg)
	}

	// The failed Open released the stores and the port: a healthy reopen works.
	raftnode.SetLogStoreWrapper(&cfg, nil)
	n, err = raftnode.Open(cfg)
	if err != nil {
		t.Fatalf("reopen after the failed start: %v", err)
	}
	n.Close()
}
