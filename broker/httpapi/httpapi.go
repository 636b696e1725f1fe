// Package httpapi serves a node's HTTP endpoints: liveness, readiness, the
// cluster view operators and tests read, per-partition digests that show
// whether replicas are identical, and the internal endpoint followers
// use to forward metadata commands to the leader.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/raftline/raftline/broker/fsm"
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

// ApplyResponse is the body of POST /v1/internal/apply.
type ApplyResponse struct {
	ErrorCode  int16  `json:"error_code"`
	ProducerID int64  `json:"producer_id"`
	Error      string `json:"error,omitempty"`
}

// Node is what the endpoints need from the node.
type Node interface {
	Ready() bool
	Cluster() (ClusterView, error)
	Partitions() PartitionsView
	// ApplyForwarded applies a metadata command on the leader.
	ApplyForwarded(ctx context.Context, c fsm.Command) (ApplyResponse, error)
}

// ForwardableOps are the commands a follower may forward; record data never
// travels this way.
var ForwardableOps = map[fsm.Op]bool{fsm.OpRegisterNode: true, fsm.OpCreateTopic: true, fsm.OpInitProducer: true}

// maxForwardBytes bounds a forwarded command's body.
const maxForwardBytes = 1 << 20

// Handler returns the mux; extra handlers (such as /metrics) are mounted by
// the caller.
func Handler(n Node) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !n.Ready() {
			http.Error(w, "not ready: no known leader, or applying committed entries", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /v1/cluster", func(w http.ResponseWriter, r *http.Request) {
		v, err := n.Cluster()
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
		writeJSON(w, http.StatusOK, n.Partitions())
	})
	mux.HandleFunc("POST /v1/internal/apply", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForwardBytes))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		c, err := fsm.Decode(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !ForwardableOps[c.Op] {
			http.Error(w, "command "+c.Op.String()+" cannot be forwarded", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		res, err := n.ApplyForwarded(ctx, c)
		if err != nil {
			res.Error = err.Error()
			writeJSON(w, http.StatusServiceUnavailable, res)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// ErrForward is returned when a forwarded command could not reach the leader.
var ErrForward = errors.New("forward to leader failed")
