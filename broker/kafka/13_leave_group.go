package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/groups"
)

// LeaveGroup v0-5.
//
// v0-2 name one member by id, answered in the top-level code. v3+ name a
// batch, each by member id or by group.instance.id (static members; a
// member id that is not the instance's current one is FENCED_INSTANCE_ID),
// each answered on its own. The members leave in one replicated entry, and
// the group rebalances without them.

func init() { register(13, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.LeaveGroupRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		if req.Group == "" {
			resp.ErrorCode = kerr.InvalidGroupID.Code
			return resp
		}
		var leaving []groups.LeavingMember
		if req.Version < 3 {
			leaving = []groups.LeavingMember{{MemberID: req.MemberID}}
		}
		for _, m := range req.Members {
			leaving = append(leaving, groups.LeavingMember{MemberID: m.MemberID, InstanceID: strOr(m.InstanceID)})
		}
		if len(leaving) == 0 {
			return resp
		}
		ctx, cancel := withGroupWriteTimeout(ctx)
		defer cancel()
		errs, err := l.cluster.LeaveGroup(ctx, req.Group, leaving)
		if err != nil {
			resp.ErrorCode = groupCode(err)
			return resp
		}
		if req.Version < 3 {
			resp.ErrorCode = groupCode(errs[0])
			return resp
		}
		for i, m := range req.Members {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, groupCode(errs[i])
			resp.Members = append(resp.Members, rm)
		}
		return resp
	}
}
