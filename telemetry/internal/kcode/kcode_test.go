package kcode

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
)

func TestName(t *testing.T) {
	for code, want := range map[int16]string{
		6: "NOT_LEADER_OR_FOLLOWER", 3: "UNKNOWN_TOPIC_OR_PARTITION", 7: "REQUEST_TIMED_OUT",
		-1: "UNKNOWN_SERVER_ERROR", 32000: "UNKNOWN_CODE_32000",
	} {
		if got := Name(code); got != want {
			t.Errorf("Name(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestOfError(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("wrapped: %w", kerr.MessageTooLarge):  "MESSAGE_TOO_LARGE",
		cluster.ErrShutdown:                              "NOT_LEADER_OR_FOLLOWER",
		fmt.Errorf("%w: lost", cluster.ErrIndeterminate): "REQUEST_TIMED_OUT",
		context.DeadlineExceeded:                         "REQUEST_TIMED_OUT",
		fmt.Errorf("disk on fire"):                       "UNKNOWN_SERVER_ERROR",
	} {
		if got := OfError(err); got != want {
			t.Errorf("OfError(%v) = %q, want %q", err, got, want)
		}
	}
}
