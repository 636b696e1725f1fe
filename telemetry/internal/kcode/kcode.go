// Package kcode names Kafka error codes for metric labels and span
// attributes, with the mapping the broker answers clients with
// (cluster.ErrorCode).
package kcode

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
)

// Name is a Kafka error code's protocol name. Code 6 carries its current
// name, NOT_LEADER_OR_FOLLOWER.
func Name(code int16) string {
	if code == kerr.NotLeaderForPartition.Code {
		return "NOT_LEADER_OR_FOLLOWER"
	}
	ke := kerr.TypedErrorForCode(code)
	if ke == nil || ke.Code != code {
		return "UNKNOWN_CODE_" + strconv.Itoa(int(code))
	}
	return ke.Message
}

// OfError names the error code a client is answered with for a non-nil err.
// The errors it is given are the cluster contract's and kerr's: produce
// spans end with what the Kafka layer got from the cluster, whose Raft
// implementation translates raftnode's errors at its boundary, and apply
// spans with the state machine's kerr errors.
func OfError(err error) string { return Name(cluster.ErrorCode(err)) }
