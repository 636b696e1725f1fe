// Package httpapi serves a node's HTTP endpoints: liveness, readiness, the
// cluster view operators and tests read, per-partition digests that show
// whether replicas are identical, profiles, and the internal endpoint
// followers forward metadata changes to, whose handler
// broker/cluster/raftcluster provides beside the client that calls it.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strconv"

	"github.com/raftline/raftline/broker/cluster/raftcluster"
)

// Member is one Raft member in the cluster view.
type Member struct {
	ID        int32  `json:"id"`
	RaftAddr  string `json:"raft_addr"`
	KafkaAddr string `json:"kafka_addr"`
	Suffrage  string `json:"suffrage"`
}

// ClusterView is the body of GET /v1/cluster.
type ClusterView struct {
	NodeID          int32    `json:"node_id"`
	State           string   `json:"state"`
	LeaderID        int32    `json:"leader_id"`
	LeaderKafkaAddr string   `json:"leader_kafka_addr"`
	Term            uint64   `json:"term"`
	CommitIndex     uint64   `json:"commit_index"`
	AppliedIndex    uint64   `json:"applied_index"`
	LastIndex       uint64   `json:"last_index"`
	Members         []Member `json:"members"`
}

// PartitionDigest describes one partition's replica on this node. Equal
// digests on two nodes mean byte-identical partition logs.
type PartitionDigest struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	LogStart      int64  `json:"log_start"`
	HighWatermark int64  `json:"high_watermark"`
	Bytes         int64  `json:"bytes"`
	SHA256        string `json:"sha256"`
}

// PartitionsView is the body of GET /v1/partitions.
type PartitionsView struct {
	NodeID       int32             `json:"node_id"`
	AppliedIndex uint64            `json:"applied_index"`
	Partitions   []PartitionDigest `json:"partitions"`
}

// PartitionFilter selects the partitions GET /v1/partitions reports, from
// its query: ?topic=T, and &partition=N with it. A digest reads the whole
// partition log, so the backend computes only the ones asked for.
type PartitionFilter struct {
	Topic     string // every topic when empty
	Partition int32  // every partition of Topic when negative
}

// AllPartitions selects every partition of every topic.
var AllPartitions = PartitionFilter{Partition: -1}

// ErrUnknownTopic and ErrUnknownPartition are what Backend.Partitions
// wraps when the filter names a topic or partition that does not exist;
// GET /v1/partitions answers them with 404.
var (
	ErrUnknownTopic     = errors.New("unknown topic")
	ErrUnknownPartition = errors.New("unknown partition")
)

// ErrorBody is the body of an error answer from /v1/ endpoints that answer
// in JSON.
type ErrorBody struct {
	Error string `json:"error"`
}

// Backend is what the endpoints read: the assembled node.
type Backend interface {
	// Ready: a leader is known and everything committed is applied.
	Ready() bool
	// Failure is what stopped the node for good (a storage fault), or
	// nil: /readyz names it.
	Failure() error
	ClusterView() (ClusterView, error)
	// Partitions returns the digests of the partitions f selects, sorted
	// by topic and partition, or an error wrapping ErrUnknownTopic or
	// ErrUnknownPartition.
	Partitions(f PartitionFilter) (PartitionsView, error)
}

// Handler returns the mux, with forward (raftcluster.Cluster.ForwardHandler)
// mounted at POST raftcluster.ForwardPath; extra handlers (such as /metrics) are
// mounted by the caller.
func Handler(b Backend, forward http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Failure(); err != nil {
			http.Error(w, "not ready: the node stopped: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if !b.Ready() {
			http.Error(w, "not ready: no known leader, or applying committed entries", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /v1/cluster", func(w http.ResponseWriter, r *http.Request) {
		v, err := b.ClusterView()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	// Profiles, for diagnosing a slow or stuck node in place.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /v1/partitions", func(w http.ResponseWriter, r *http.Request) {
		f, err := partitionFilter(r.URL.RawQuery)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error()})
			return
		}
		v, err := b.Partitions(f)
		switch {
		case errors.Is(err, ErrUnknownTopic), errors.Is(err, ErrUnknownPartition):
			writeJSON(w, http.StatusNotFound, ErrorBody{Error: err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: err.Error()})
		default:
			writeJSON(w, http.StatusOK, v)
		}
	})
	mux.Handle("POST "+raftcluster.ForwardPath, forward)
	return mux
}

// partitionFilter reads the query of GET /v1/partitions. Anything it does
// not understand is an error rather than ignored: a filter silently dropped
// answers a different question than the one asked.
func partitionFilter(rawQuery string) (PartitionFilter, error) {
	f := AllPartitions
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return f, fmt.Errorf("malformed query: %v", err)
	}
	for k, vs := range q {
		if k != "topic" && k != "partition" {
			return f, fmt.Errorf("unknown parameter %q: the filters are topic and partition", k)
		}
		if len(vs) > 1 {
			return f, fmt.Errorf("%s given %d times: give one %s", k, len(vs), k)
		}
	}
	if q.Has("topic") {
		if f.Topic = q.Get("topic"); f.Topic == "" {
			return f, errors.New("empty topic: give a topic name, or no topic parameter for every topic")
		}
	}
	if q.Has("partition") {
		if f.Topic == "" {
			return f, errors.New("partition needs a topic: ?topic=T&partition=N")
		}
		p := q.Get("partition")
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 {
			return f, fmt.Errorf("partition %q is not a partition number (0 or more)", p)
		}
		f.Partition = int32(n)
	}
	return f, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
