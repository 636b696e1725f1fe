// Package kcode names Kafka error codes for metric labels and span
// attributes, with the same mapping the broker uses to answer clients.
package kcode

import (
	"context"
	"errors"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/raftnode"
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

// OfError names the error code a client is answered with for err, as the
// Kafka layer maps it: kerr errors keep their code, raftnode's sentinels
// become the retriable codes.
func OfError(err error) string {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return Name(ke.Code)
	case errors.Is(err, raftnode.ErrNotLeader), errors.Is(err, raftnode.ErrShutdown):
		return Name(kerr.NotLeaderForPartition.Code)
	case errors.Is(err, raftnode.ErrIndeterminate), errors.Is(err, context.DeadlineExceeded):
		return Name(kerr.RequestTimedOut.Code)
	}
	return Name(kerr.UnknownServerError.Code)
}
