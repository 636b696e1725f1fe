package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeCluster v0-1.
//
// The registered nodes, with the Raft leader as controller. v1 asks for an
// endpoint type: only brokers (1) are served.

func init() { register(60, 0, 1, handleDescribeCluster) }

func handleDescribeCluster(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.DescribeClusterRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
		resp.EndpointType = 1
		if req.Version >= 1 && req.EndpointType != 1 {
			resp.ErrorCode = kerr.UnsupportedEndpointType.Code
			return resp
		}
		resp.ClusterID = l.cfg.ClusterID
		resp.ControllerID = l.cluster.Leader()
		for _, b := range l.brokers(r.external) {
			db := kmsg.NewDescribeClusterResponseBroker()
			db.NodeID, db.Host, db.Port = b.NodeID, b.Host, b.Port
			resp.Brokers = append(resp.Brokers, db)
		}
		return resp
	}
}
