package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// InitProducerID v0-4, for idempotent producers only.
//
// Any node answers: the allocation is a Raft entry, forwarded to the leader
// when this node is not it, so every replica knows the id and can
// deduplicate the producer's retried batches after a failover. A client
// asking to bump an existing id's epoch (v3+) gets a fresh id instead, which
// is equally valid under KIP-360.
//
// raftline has no transaction coordinator. A request that names a
// transactional id (sent here because FindCoordinator names this node for
// transactions, see 10_find_coordinator.go) is refused with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED: the one code that franz-go, sarama
// and librdkafka all treat as fatal, so a transactional producer fails at
// once. The others tried (UNSUPPORTED_VERSION, GROUP_AUTHORIZATION_FAILED)
// have librdkafka retry until its init timeout. The response carries no
// message, so the node logs the reason (at most once a minute).

func init() { register(22, 0, 4, handleInitProducerID) }

func handleInitProducerID(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.InitProducerIDRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		if req.TransactionalID != nil {
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			transactionRefusals.log(l.log, "refused a transactional producer: raftline does not support transactions",
				"transactional_id", *req.TransactionalID)
			return resp
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		id, err := l.cluster.InitProducer(ctx)
		if err != nil {
			resp.ErrorCode = cluster.ErrorCode(err)
			if resp.ErrorCode == kerr.NotLeaderForPartition.Code {
				resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			}
			return resp
		}
		resp.ProducerID, resp.ProducerEpoch = id, 0
		return resp
	}
}
