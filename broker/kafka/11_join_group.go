package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/groups"
)

// JoinGroup v0-9.
//
// Kafka's classic protocol (GroupCoordinator.handleJoinGroup): the leader's
// coordinator replicates the join and answers once the join phase of the
// member's rebalance completes (every member joined, or the rebalance
// timeout ended it; an empty group's first rebalance also waits
// --group-initial-rebalance-delay). v4+ members without an id are given one
// with MEMBER_ID_REQUIRED and join again with it; static members
// (group.instance.id, v5+) take over their instance's place, fencing the old
// member id. v0 has no rebalance timeout: the session timeout is used, as
// Kafka does. v9's SkipAssignment is never set: the leader always assigns.

func init() { register(11, 0, 9, handleJoinGroup) }

func handleJoinGroup(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.JoinGroupRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.Generation, resp.MemberID = -1, req.MemberID
		fail := func(err error) kmsg.Response {
			resp.ErrorCode = groupCode(err)
			return resp
		}
		if req.Group == "" {
			return fail(kerr.InvalidGroupID)
		}
		rebalance := req.RebalanceTimeoutMillis
		if req.Version == 0 {
			rebalance = req.SessionTimeoutMillis
		}
		j := groups.Join{
			MemberID: req.MemberID, InstanceID: strOr(req.InstanceID), ClientID: r.clientID, ClientHost: r.clientHost,
			SessionTimeoutMs: req.SessionTimeoutMillis, RebalanceTimeoutMs: rebalance, ProtocolType: req.ProtocolType,
		}
		for _, p := range req.Protocols {
			j.Protocols = append(j.Protocols, groups.Protocol{Name: p.Name, Metadata: p.Metadata})
		}
		// The join is answered by the rebalance timeout at the latest; a
		// margin covers the proposal.
		ctx, cancel := context.WithTimeout(ctx, time.Duration(max(rebalance, 0))*time.Millisecond+30*time.Second)
		defer cancel()
		end := l.startSpan(ctx, "JoinGroup", req.Group)
		jr, err := l.cluster.JoinGroup(ctx, req.Group, j, req.Version >= 4)
		end(err)
		if jr != nil {
			resp.MemberID, resp.Generation = jr.MemberID, jr.Generation
		}
		if err != nil {
			return fail(err)
		}
		resp.LeaderID = jr.Leader
		resp.ProtocolType, resp.Protocol = kmsg.StringPtr(jr.ProtocolType), kmsg.StringPtr(jr.Protocol)
		for _, m := range jr.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.ProtocolMetadata = m.MemberID, m.Metadata
			if m.InstanceID != "" {
				rm.InstanceID = kmsg.StringPtr(m.InstanceID)
			}
			resp.Members = append(resp.Members, rm)
		}
		return resp
	}
}
