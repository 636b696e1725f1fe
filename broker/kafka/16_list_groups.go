package kafka

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/groups"
)

// ListGroups v0-4.
//
// The leader lists every group (filtered by state, v4+); another node
// coordinates none and lists none, as a Kafka broker lists only the groups
// it coordinates, so an admin client asking every broker sees each group
// once.

func init() { register(16, 0, 4, handleListGroups) }

func handleListGroups(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.ListGroupsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
		states := map[string]bool{}
		for _, s := range req.StatesFilter {
			states[strings.ToLower(s)] = true // Kafka parses the names case-insensitively
		}
		err := l.cluster.ListGroups(func(g *groups.Group) {
			if len(states) > 0 && !states[strings.ToLower(string(g.State))] {
				return
			}
			rg := kmsg.NewListGroupsResponseGroup()
			rg.Group, rg.ProtocolType, rg.GroupState = g.Name, g.ProtocolType, string(g.State)
			resp.Groups = append(resp.Groups, rg)
		})
		resp.ErrorCode = groupCode(err)
		return resp
	}
}
