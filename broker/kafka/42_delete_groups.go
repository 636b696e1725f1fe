package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups v0-2.
//
// Deletes empty groups with their committed offsets, in one replicated
// entry: a group with members is NON_EMPTY_GROUP, one that does not exist
// GROUP_ID_NOT_FOUND, an empty name INVALID_GROUP_ID.

func init() { register(42, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.DeleteGroupsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
		var names []string
		for _, name := range req.Groups {
			if name != "" {
				names = append(names, name)
			}
		}
		var errs []error
		var err error
		if len(names) > 0 {
			ctx, cancel := withGroupWriteTimeout(ctx)
			errs, err = l.cluster.DeleteGroups(ctx, names)
			cancel()
		}
		i := 0
		for _, name := range req.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = name
			switch {
			case name == "":
				rg.ErrorCode = kerr.InvalidGroupID.Code
			case err != nil:
				rg.ErrorCode = groupCode(err)
				i++
			default:
				rg.ErrorCode = groupCode(errs[i])
				i++
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}
}
