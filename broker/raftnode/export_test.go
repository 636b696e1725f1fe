package raftnode

import "github.com/hashicorp/raft"

// SetLogStoreWrapper makes Open wrap the node's raft-wal store with f (tests
// damage the log through it).
func SetLogStoreWrapper(cfg *Config, f func(raft.LogStore) raft.LogStore) { cfg.wrapLogStore = f }

// SetStableStoreWrapper makes Open wrap the term and vote store Raft runs
// with (tests fail its writes through it).
func SetStableStoreWrapper(cfg *Config, f func(raft.StableStore) raft.StableStore) {
	cfg.wrapStableStore = f
}
