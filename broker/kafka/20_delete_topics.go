package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// DeleteTopics v0-5 (by name; v6's topic ids are not served).
//
// Only the controller (the Raft leader) deletes; others answer NOT_CONTROLLER.

func init() { register(20, 0, 5, handleDeleteTopics) }

func handleDeleteTopics(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.DeleteTopicsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
		timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		for _, name := range req.TopicNames {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic = &name
			var err error
			switch {
			case !l.cluster.IsLeader():
				err = kerr.NotController
			case !l.hasTopic(name):
				err = kerr.UnknownTopicOrPartition
			default:
				err = l.cluster.DeleteTopic(ctx, name)
			}
			st.ErrorCode = cluster.ErrorCode(err)
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
}
