package raftcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/fsm"
)

// Followers forward the metadata changes any node may be asked for to the
// leader over HTTP; record data never travels this way. Both ends live here:
// forward is the follower's client, ForwardHandler the leader's endpoint
// (broker/httpapi mounts it at ForwardPath).

// ForwardPath is the leader's endpoint for forwarded changes: the body is
// the encoded fsm.Command, the answer an ApplyResponse.
const ForwardPath = "/v1/internal/apply"

// ForwardableOps are the commands a follower may forward.
var ForwardableOps = map[fsm.Op]bool{fsm.OpRegisterNode: true, fsm.OpCreateTopic: true, fsm.OpInitProducer: true, fsm.OpAlterConfigs: true}

// ApplyResponse is the body of the answer to a forwarded change.
type ApplyResponse struct {
	ErrorCode  int16  `json:"error_code"`
	ProducerID int64  `json:"producer_id"`
	Error      string `json:"error,omitempty"`
}

// maxForwardBytes bounds a forwarded command's body.
const maxForwardBytes = 1 << 20

// forward sends a change to the leader and returns its result. A leader that
// cannot be reached is ErrNotLeader (nothing was applied); one that took the
// change but failed to apply it is ErrIndeterminate.
func (c *Cluster) forward(ctx context.Context, cmd fsm.Command) (fsm.ApplyResult, error) {
	leader, ok := c.Broker(c.node.Leader())
	if !ok || leader.HTTPAddr == "" {
		return fsm.ApplyResult{}, cluster.ErrNotLeader
	}
	body, err := fsm.Encode(cmd)
	if err != nil {
		return fsm.ApplyResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+leader.HTTPAddr+ForwardPath, bytes.NewReader(body))
	if err != nil {
		return fsm.ApplyResult{}, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fsm.ApplyResult{}, fmt.Errorf("%w: %v", cluster.ErrNotLeader, err)
	}
	defer resp.Body.Close()
	var ar ApplyResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ar); err != nil {
		return fsm.ApplyResult{}, fmt.Errorf("%w: %s from leader", cluster.ErrNotLeader, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return fsm.ApplyResult{}, fmt.Errorf("%w: leader said %s", cluster.ErrIndeterminate, ar.Error)
	}
	res := fsm.ApplyResult{ProducerID: ar.ProducerID}
	if ar.ErrorCode != 0 {
		res.Err = kerr.ErrorForCode(ar.ErrorCode)
	}
	return res, nil
}

// ForwardHandler serves ForwardPath: a follower's change, applied here when
// this node leads.
func (c *Cluster) ForwardHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForwardBytes))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		cmd, err := fsm.Decode(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !ForwardableOps[cmd.Op] {
			http.Error(w, "command "+cmd.Op.String()+" cannot be forwarded", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		res, err := c.applyForwarded(ctx, cmd)
		if err != nil {
			res.Error = err.Error()
			writeJSON(w, http.StatusServiceUnavailable, res)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

func (c *Cluster) applyForwarded(ctx context.Context, cmd fsm.Command) (ApplyResponse, error) {
	if !c.node.IsLeader() {
		return ApplyResponse{ErrorCode: kerr.NotLeaderForPartition.Code}, cluster.ErrNotLeader
	}
	res, err := c.applyHere(ctx, cmd)
	if err != nil {
		return ApplyResponse{}, err
	}
	out := ApplyResponse{ProducerID: res.ProducerID}
	var ke *kerr.Error
	if errors.As(res.Err, &ke) {
		out.ErrorCode = ke.Code
	}
	return out, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
