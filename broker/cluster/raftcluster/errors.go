package raftcluster

import (
	"errors"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/raftnode"
)

// fromNode translates raftnode's sentinels into the contract's at the
// boundary: the error it returns keeps the node's error and its text, and
// also matches the cluster sentinel of the same meaning, so callers test
// errors.Is(err, cluster.ErrNotLeader) and cluster.ErrorCode maps it. Every
// error from a proposal passes through here; other errors are returned as
// they are.
func fromNode(err error) error {
	var sentinel error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raftnode.ErrNotLeader):
		sentinel = cluster.ErrNotLeader
	case errors.Is(err, raftnode.ErrIndeterminate):
		sentinel = cluster.ErrIndeterminate
	case errors.Is(err, raftnode.ErrShutdown):
		sentinel = cluster.ErrShutdown
	case errors.Is(err, raftnode.ErrStorageFault):
		sentinel = cluster.ErrStorage
	default:
		return err
	}
	return &nodeError{cause: err, sentinel: sentinel}
}

// nodeError is one of raftnode's errors seen through the contract.
type nodeError struct{ cause, sentinel error }

func (e *nodeError) Error() string   { return e.cause.Error() }
func (e *nodeError) Unwrap() []error { return []error{e.cause, e.sentinel} }
