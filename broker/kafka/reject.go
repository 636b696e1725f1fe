package kafka

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"time"
)

// Reasons the listener closes a client's connection. They label
// raftline_kafka_rejected_requests_total, so they are a small fixed set.
const (
	ReasonUnknownAPIKey       = "unknown_api_key"       // a request for an API raftline does not serve
	ReasonUnsupportedVersion  = "unsupported_version"   // a served API at a version outside the served range
	ReasonMalformed           = "malformed"             // a frame or request that cannot be parsed, or cut short
	ReasonFrameTooLarge       = "frame_too_large"       // a declared size above MaxFrameBytes
	ReasonFirstRequestTimeout = "first_request_timeout" // no whole request within FirstRequestTimeout of connecting
	ReasonFrameTimeout        = "frame_timeout"         // a frame not completed within FrameTimeout of its first byte
	ReasonIdleTimeout         = "idle_timeout"          // nothing sent, pending or answered for IdleTimeout
	ReasonWriteTimeout        = "write_timeout"         // a response the client did not read within FrameTimeout
	ReasonBudget              = "budget"                // the in-flight request bytes budget, see nodeBudget
)

// Reasons lists every reason a connection is closed for, so metrics can
// export each from the start.
func Reasons() []string {
	return []string{ReasonUnknownAPIKey, ReasonUnsupportedVersion, ReasonMalformed, ReasonFrameTooLarge,
		ReasonFirstRequestTimeout, ReasonFrameTimeout, ReasonIdleTimeout, ReasonWriteTimeout, ReasonBudget}
}

// maxTracked bounds the (peer host, reason) pairs the reject log remembers
// and the peers it counts per reason, so many peers cannot grow it.
const maxTracked = 1024

// rejectLog keeps closed connections from flooding the log. The first
// rejection of each (peer host, reason) is logged with its error; the rest
// are counted and summarised once per interval, one line per reason. A pair
// that does not recur for a whole interval is forgotten, so a client that
// comes back later is logged again. A client stuck retrying an unserved
// request therefore costs one line, then one line per interval, however
// fast it retries.
type rejectLog struct {
	log      *slog.Logger
	interval time.Duration

	mu     sync.Mutex
	seen   map[rejectKey]bool // logged pairs; true when seen again this interval
	counts map[string]*rejectCount
}

type rejectKey struct{ host, reason string }

type rejectCount struct {
	n, logged int
	peers     map[string]struct{}
}

func newRejectLog(log *slog.Logger, interval time.Duration) *rejectLog {
	return &rejectLog{log: log, interval: interval, seen: map[rejectKey]bool{}, counts: map[string]*rejectCount{}}
}

// reject records one closed connection and logs it when it is the first of
// its (peer host, reason).
func (r *rejectLog) reject(remote net.Addr, reason string, err error) {
	host := remote.String()
	if h, _, splitErr := net.SplitHostPort(host); splitErr == nil {
		host = h
	}
	key := rejectKey{host, reason}
	r.mu.Lock()
	c := r.counts[reason]
	if c == nil {
		c = &rejectCount{peers: map[string]struct{}{}}
		r.counts[reason] = c
	}
	c.n++
	if len(c.peers) < maxTracked {
		c.peers[host] = struct{}{}
	}
	_, seen := r.seen[key]
	first := !seen && len(r.seen) < maxTracked
	if seen || first {
		r.seen[key] = true
	}
	if first {
		c.logged++
	}
	r.mu.Unlock()
	if first {
		r.log.Info("closing Kafka connection", "remote", remote.String(), "reason", reason, "err", err,
			"repeats", "counted, summarised every "+r.interval.String())
	}
}

// flush logs, per reason, the rejections of the interval that ended when
// some were not logged one by one, and forgets the pairs that did not recur.
func (r *rejectLog) flush() {
	r.mu.Lock()
	counts := r.counts
	r.counts = map[string]*rejectCount{}
	for k, recurred := range r.seen {
		if recurred {
			r.seen[k] = false
		} else {
			delete(r.seen, k)
		}
	}
	r.mu.Unlock()
	for _, reason := range slices.Sorted(maps.Keys(counts)) {
		c := counts[reason]
		if c.n == c.logged {
			continue
		}
		peers := slices.Sorted(maps.Keys(c.peers))
		r.log.Info("rejected Kafka requests", "reason", reason, "count", c.n, "peers", len(peers),
			"sample", peers[:min(3, len(peers))], "interval", r.interval.String())
	}
}

// run flushes every interval until ctx ends, then once more.
func (r *rejectLog) run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.flush()
		case <-ctx.Done():
			r.flush()
			return
		}
	}
}
