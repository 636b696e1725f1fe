package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/raftline/raftline/broker/raftnode"
)

// A node that stops gracefully tells its peers first, over the HTTP API they
// already serve: StoppingPath on each one (announceStopping is the client,
// stoppingHandler the endpoint). A peer told so logs failures to reach the
// stopping node at DEBUG until it is back, and does not hand leadership to
// it (broker/raftnode, departures.go): shutting a node or the whole cluster
// down is not an error, and a node's ERROR lines about an unreachable peer
// should keep meaning that the peer is down unexpectedly. The answer says
// whether the peer is stopping too, which is what a leader stopping together
// with its followers (Ctrl-C on `raftline dev`) needs to know to stop
// without handing leadership to a node that is going as well.

// StoppingPath is the endpoint a node that stops gracefully posts a
// StoppingNotice to on each peer; the answer is a StoppingReply.
const StoppingPath = "/v1/internal/stopping"

// StoppingNotice is the body of POST StoppingPath.
type StoppingNotice struct {
	NodeID int32 `json:"node_id"`
}

// StoppingReply is the answer: who answered and whether it is stopping too.
type StoppingReply struct {
	NodeID   int32 `json:"node_id"`
	Stopping bool  `json:"stopping"`
}

// announceTimeout bounds the whole announcement. Peers answer at once; one
// that does not (down, cut off) must not hold up the stop, and it will
// not be logging about this node anyway.
const announceTimeout = 500 * time.Millisecond

// announceStopping posts a StoppingNotice to every other member whose HTTP
// address is registered, concurrently, and records the peers that answer
// that they are stopping too. Failures are logged at DEBUG: the peer then
// just learns of the stop as of a crash.
func (s *Server) announceStopping() {
	ctx, cancel := context.WithTimeout(context.Background(), announceTimeout)
	defer cancel()
	body, _ := json.Marshal(StoppingNotice{NodeID: s.cfg.NodeID})
	var wg sync.WaitGroup
	for _, m := range s.Node.Configuration() {
		id, ok := raftnode.NodeIDOf(m.ID)
		if !ok || id == s.cfg.NodeID {
			continue
		}
		b, ok := s.Cluster.Broker(id)
		if !ok || b.HTTPAddr == "" {
			s.log.Debug("cannot tell a peer this node is stopping: its HTTP address is not known", "peer", id)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := postStopping(ctx, b.HTTPAddr, body)
			if err != nil {
				s.log.Debug("telling a peer this node is stopping", "peer", id, "err", err)
				return
			}
			if reply.Stopping && reply.NodeID == id {
				s.Node.PeerStopping(id)
			}
		}()
	}
	wg.Wait()
}

var stoppingClient = &http.Client{}

func postStopping(ctx context.Context, httpAddr string, body []byte) (StoppingReply, error) {
	var reply StoppingReply
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpAddr+StoppingPath, bytes.NewReader(body))
	if err != nil {
		return reply, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := stoppingClient.Do(req)
	if err != nil {
		return reply, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return reply, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&reply)
	return reply, err
}

// stoppingHandler serves StoppingPath: a peer says it is stopping. The
// notice must name a member other than this node.
func (s *Server) stoppingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n StoppingNotice
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&n); err != nil {
			http.Error(w, "body must be {\"node_id\": <id>}: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.Node.PeerStopping(n.NodeID); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(StoppingReply{NodeID: s.cfg.NodeID, Stopping: s.Node.Stopping()})
	})
}
