package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat v0-4.
//
// Keeps a member's session on the coordinator, in the leader's memory only
// (nothing is replicated), and tells it to join again
// (REBALANCE_IN_PROGRESS) while its group rebalances. An unknown member,
// one whose session expired, is UNKNOWN_MEMBER_ID; an older generation is
// ILLEGAL_GENERATION; a static member's replaced id is FENCED_INSTANCE_ID.

func init() { register(12, 0, 4, handleHeartbeat) }

func handleHeartbeat(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.HeartbeatRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		if req.Group == "" {
			resp.ErrorCode = kerr.InvalidGroupID.Code
			return resp
		}
		resp.ErrorCode = groupCode(l.cluster.Heartbeat(req.Group, req.MemberID, strOr(req.InstanceID), req.Generation))
		return resp
	}
}
