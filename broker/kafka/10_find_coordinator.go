package kafka

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator v0-4.
//
// Each key type gets the coordinator the clients can use:
//
//   - GROUP (0, and every v0 request): the Raft leader, which coordinates
//     every group (the group APIs answer NOT_COORDINATOR on any other node,
//     and clients look the coordinator up again). With no leader known the
//     answer is COORDINATOR_NOT_AVAILABLE, which clients retry, as Kafka
//     answers while a coordinator moves.
//   - TRANSACTION (1): this node is named the coordinator and InitProducerID
//     refuses the transactional id (22_init_producer_id.go). Clients retry a
//     failed coordinator lookup (sarama 50 times over 5 s, librdkafka for
//     its whole init timeout) but treat that refusal as fatal, so naming a
//     coordinator that then refuses is what fails a transactional producer at
//     once.
//   - any other type (share groups, v6+): INVALID_REQUEST, as Kafka answers.
//
// v4 carries a batch of keys (KIP-699), each answered as above.

func init() { register(10, 0, 4, handleFindCoordinator) }

const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

func handleFindCoordinator(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.FindCoordinatorRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
		if req.Version < 4 {
			c := l.coordinator(req.CoordinatorType, req.CoordinatorKey, r.external)
			resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
			resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
			return resp
		}
		for _, key := range req.CoordinatorKeys {
			resp.Coordinators = append(resp.Coordinators, l.coordinator(req.CoordinatorType, key, r.external))
		}
		return resp
	}
}

// coordinator answers one key of the given type.
func (l *Listener) coordinator(keyType int8, key string, external bool) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key, c.NodeID, c.Port = key, -1, -1
	switch keyType {
	case coordinatorGroup:
		leader, ok := l.leaderBroker(external)
		if !ok {
			c.ErrorCode = kerr.CoordinatorNotAvailable.Code
			break
		}
		c.NodeID, c.Host, c.Port = leader.NodeID, leader.Host, leader.Port
	case coordinatorTransaction:
		self, ok := l.self(external)
		if !ok { // this node's own address is unusable: no coordinator to name
			c.ErrorCode = kerr.CoordinatorNotAvailable.Code
			break
		}
		c.NodeID, c.Host, c.Port = self.NodeID, self.Host, self.Port
	default:
		c.ErrorCode = kerr.InvalidRequest.Code
	}
	return c
}

// leaderBroker is the Raft leader as Metadata lists it to a client of the
// listener, when one is known.
func (l *Listener) leaderBroker(external bool) (kmsg.MetadataResponseBroker, bool) {
	leader := l.cluster.Leader()
	if leader < 0 {
		return kmsg.MetadataResponseBroker{}, false
	}
	for _, b := range l.brokers(external) {
		if b.NodeID == leader {
			return b, true
		}
	}
	return kmsg.MetadataResponseBroker{}, false
}

// self is this node as Metadata lists it to a client of the listener.
func (l *Listener) self(external bool) (kmsg.MetadataResponseBroker, bool) {
	for _, b := range l.brokers(external) {
		if b.NodeID == l.cfg.NodeID {
			return b, true
		}
	}
	return kmsg.MetadataResponseBroker{}, false
}

// refusalLog bounds the log lines written for a feature raftline refuses:
// clients retry a refused transactional producer for as long as they run,
// and one line a minute says as much as sixty. It is shared by the
// listeners of a process, which is one node outside tests.
type refusalLog struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

// refusalLogEvery is the least time between two lines of one refusalLog.
const refusalLogEvery = time.Minute

var transactionRefusals refusalLog

// log writes msg at Info unless a line went out less than refusalLogEvery
// ago; the next line counts the refusals left out.
func (r *refusalLog) log(l *slog.Logger, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < refusalLogEvery {
		r.skipped++
		r.mu.Unlock()
		return
	}
	skipped := r.skipped
	r.last, r.skipped = now, 0
	r.mu.Unlock()
	l.Info(msg, append(args, "refused_since_last_line", skipped)...)
}
