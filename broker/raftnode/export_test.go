package raftnode

import "github.com/hashicorp/raft"

// SetLogStoreWrapper makes Open wrap the node's raft-wal store with f (tests
// damage the log through it).
func SetLogStoreWrapper(cfg *Config, f func(raft.LogStore) raft.LogStore) { cfg.wrapLogStore = f }
