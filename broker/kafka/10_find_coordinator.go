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
// raftline has neither a group coordinator nor a transaction coordinator. It
// serves this request so that clients of either learn so at once, instead of
// retrying connections the broker closes on an API it does not know (sarama's
// transactional producer took 44 s to give up that way, librdkafka's group
// consumers waited silently for ever). Each key type gets the answer that
// makes the clients in docs/COMPATIBILITY.md give up or report at once, as
// test/compat checks:
//
//   - GROUP (0, and every v0 request): INVALID_REQUEST, with an error message
//     saying that consumer groups are not supported, which librdkafka shows.
//     The other clients show their own text for the code (franz-go's and
//     sarama's send the reader to the broker's log, where the node says why,
//     at most once a minute), and none retries the lookup as if the answer
//     could change. COORDINATOR_NOT_AVAILABLE would read as "try again":
//     librdkafka, kafka-python and franz-go retry it silently for ever.
//     GROUP_AUTHORIZATION_FAILED and UNSUPPORTED_VERSION are reported as
//     promptly but point at ACLs and version negotiation.
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

// noGroupsMessage is the error message of a group's lookup.
const noGroupsMessage = "raftline does not support consumer groups: assign partitions and keep offsets in the application"

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
		c.ErrorCode, c.ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr(noGroupsMessage)
		groupRefusals.log(l.log, "refused a consumer group: raftline does not support consumer groups", "group", key)
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
// clients retry a refused group lookup every second or so for as long as
// they run, and one line a minute says as much as sixty. It is shared by the
// listeners of a process, which is one node outside tests.
type refusalLog struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

// refusalLogEvery is the least time between two lines of one refusalLog.
const refusalLogEvery = time.Minute

var groupRefusals, transactionRefusals refusalLog

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
