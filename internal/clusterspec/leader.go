package clusterspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/raftline/raftline/broker/httpapi"
)

// Agreement is what the nodes asked reported alike: one leader, one term.
type Agreement struct {
	LeaderID int32
	Term     uint64
	// Views are the nodes' GET /v1/cluster, in the order of the
	// addresses asked.
	Views []httpapi.ClusterView
}

// LeaderIndex is the position of the leader's own view in Views, or -1 when
// the leader was not among the nodes asked.
func (a Agreement) LeaderIndex() int {
	for i, v := range a.Views {
		if v.NodeID == a.LeaderID {
			return i
		}
	}
	return -1
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

// View is the node's GET /v1/cluster.
func View(httpAddr string) (httpapi.ClusterView, error) {
	var v httpapi.ClusterView
	resp, err := httpClient.Get("http://" + httpAddr + "/v1/cluster")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return v, fmt.Errorf("GET %s/v1/cluster: %w", httpAddr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET %s/v1/cluster: %s: %s", httpAddr, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("GET %s/v1/cluster: %w", httpAddr, err)
	}
	return v, nil
}

// CheckLeader asks each node at httpAddrs for GET /v1/cluster once. The
// nodes agree when every one names the same, known leader (leader_id > 0;
// node ids are positive, -1 means none) in the same term, and the leader,
// when asked, reports itself in state leader. Otherwise the error says what
// each node reported.
func CheckLeader(httpAddrs []string) (Agreement, error) {
	if len(httpAddrs) == 0 {
		return Agreement{}, errors.New("no nodes to ask")
	}
	var a Agreement
	for _, addr := range httpAddrs {
		v, err := View(addr)
		if err != nil {
			return Agreement{}, err
		}
		a.Views = append(a.Views, v)
	}
	a.LeaderID, a.Term = a.Views[0].LeaderID, a.Views[0].Term
	for _, v := range a.Views {
		if v.LeaderID <= 0 || v.LeaderID != a.LeaderID || v.Term != a.Term {
			return Agreement{}, fmt.Errorf("no agreed leader and term: %s", Describe(a.Views))
		}
	}
	if i := a.LeaderIndex(); i >= 0 && a.Views[i].State != "leader" {
		return Agreement{}, fmt.Errorf("node %d is named leader but is %s: %s", a.LeaderID, a.Views[i].State, Describe(a.Views))
	}
	return a, nil
}

// WaitLeader polls CheckLeader every interval until the nodes agree and
// accept, when not nil, takes the agreement (returns nil), and returns it.
// addrs is called before each check, as the nodes worth asking (the running
// ones) can change while it waits. Once timeout has passed it returns the
// last error seen.
func WaitLeader(timeout, every time.Duration, addrs func() []string, accept func(Agreement) error) (Agreement, error) {
	deadline := time.Now().Add(timeout)
	for {
		a, err := CheckLeader(addrs())
		if err == nil && accept != nil {
			err = accept(a)
		}
		if err == nil {
			return a, nil
		}
		if time.Now().After(deadline) {
			return Agreement{}, fmt.Errorf("no agreed leader after %v: %w", timeout, err)
		}
		time.Sleep(every)
	}
}

// Describe summarises cluster views on one line.
func Describe(views []httpapi.ClusterView) string {
	var parts []string
	for _, v := range views {
		parts = append(parts, fmt.Sprintf("node %d: %s, leader %d, term %d, commit %d, applied %d, last %d",
			v.NodeID, v.State, v.LeaderID, v.Term, v.CommitIndex, v.AppliedIndex, v.LastIndex))
	}
	return strings.Join(parts, "; ")
}
