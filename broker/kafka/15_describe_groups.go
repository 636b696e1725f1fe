package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/groups"
)

// DescribeGroups v0-5.
//
// Each group as the coordinator has applied it: state, protocol type, and
// its members with client id, host and instance id. As Kafka's summary,
// members carry their metadata and assignment only in a Stable group, with
// the chosen protocol named; a group that does not exist is described as
// Dead with no error. Authorized operations are not computed (no ACLs).

func init() { register(15, 0, 5, handleDescribeGroups) }

func handleDescribeGroups(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.DescribeGroupsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, name := range req.Groups {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group, rg.State, rg.AuthorizedOperations = name, string(groups.Dead), -2147483648
			if name == "" {
				rg.ErrorCode = kerr.InvalidGroupID.Code
				resp.Groups = append(resp.Groups, rg)
				continue
			}
			err := l.cluster.DescribeGroup(name, func(g *groups.Group) {
				if g == nil {
					return
				}
				rg.State, rg.ProtocolType = string(g.State), g.ProtocolType
				stable := g.State == groups.Stable
				if stable {
					rg.Protocol = g.Protocol
				}
				for _, m := range g.Members {
					rm := kmsg.NewDescribeGroupsResponseGroupMember()
					rm.MemberID, rm.ClientID, rm.ClientHost = m.ID, m.ClientID, m.ClientHost
					if m.InstanceID != "" {
						rm.InstanceID = kmsg.StringPtr(m.InstanceID)
					}
					if stable {
						for _, p := range m.Protocols {
							if p.Name == g.Protocol {
								rm.ProtocolMetadata = append([]byte(nil), p.Metadata...)
							}
						}
						rm.MemberAssignment = append([]byte(nil), m.Assignment...)
					}
					rg.Members = append(rg.Members, rm)
				}
			})
			rg.ErrorCode = groupCode(err)
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}
}
