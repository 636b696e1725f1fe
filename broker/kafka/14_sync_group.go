package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/groups"
)

// SyncGroup v0-5.
//
// The leader's assignments are replicated and end the rebalance; every
// member, the leader included, is answered its own assignment once they are
// applied. A follower's SyncGroup waits for the leader's on the applied
// state, and is answered REBALANCE_IN_PROGRESS when a new rebalance starts
// first. v5's protocol type and name must be the group's
// (INCONSISTENT_GROUP_PROTOCOL otherwise) and are echoed.

func init() { register(14, 0, 5, handleSyncGroup) }

// syncWait bounds a follower's wait for the leader's assignment; clients
// give up on a SyncGroup after their rebalance timeout.
const syncWait = 5 * time.Minute

func handleSyncGroup(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.SyncGroupRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		if req.Group == "" {
			resp.ErrorCode = kerr.InvalidGroupID.Code
			return resp
		}
		s := groups.Sync{MemberID: req.MemberID, InstanceID: strOr(req.InstanceID), Generation: req.Generation,
			ProtocolType: strOr(req.ProtocolType), Protocol: strOr(req.Protocol)}
		for _, a := range req.GroupAssignment {
			s.Assignments = append(s.Assignments, groups.Assignment{MemberID: a.MemberID, Assignment: a.MemberAssignment})
		}
		ctx, cancel := context.WithTimeout(ctx, syncWait)
		defer cancel()
		end := l.startSpan(ctx, "SyncGroup", req.Group)
		assignment, err := l.cluster.SyncGroup(ctx, req.Group, s)
		end(err)
		if err != nil {
			resp.ErrorCode = groupCode(err)
			return resp
		}
		resp.MemberAssignment = assignment
		resp.ProtocolType, resp.Protocol = req.ProtocolType, req.Protocol
		return resp
	}
}
