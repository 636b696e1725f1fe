// Package httpapi serves a node's HTTP endpoints: liveness, readiness, the
// cluster view operators and tests read, per-partition digests that show
// whether replicas are identical, profiles, and the internal endpoint
// followers forward metadata changes to, whose handler
// broker/cluster/raftcluster provides beside the client that calls it.
package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/pprof"

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

// Backend is what the endpoints read: the assembled node.
type Backend interface {
	// Ready: a leader is known and everything committed is applied.
	Ready() bool
	ClusterView() (ClusterView, error)
	PartitionsView() PartitionsView
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
		writeJSON(w, http.StatusOK, b.PartitionsView())
	})
	mux.Handle("POST "+raftcluster.ForwardPath, forward)
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
